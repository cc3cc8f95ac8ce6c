"""erased customers: orders placed after user.deleted was handled are cancelled too

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01
"""
import sqlalchemy as sa
from alembic import op

from flotilla.db import UTCDateTime

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "erased_customers",
        sa.Column("user_id", sa.Uuid(), primary_key=True),
        sa.Column("erased_at", UTCDateTime(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("erased_customers")
