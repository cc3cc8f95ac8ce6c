"""idempotency keys expire: the column becomes nullable, purged keys are NULL

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01
"""
import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # NULLs never collide in uq_orders_user_idempotency_key (SQLite and PostgreSQL alike).
    with op.batch_alter_table("orders") as batch:
        batch.alter_column("idempotency_key", existing_type=sa.String(200), nullable=True)
    op.create_index("ix_orders_idempotency_expiry", "orders", ["created_at"],
                    postgresql_where=sa.text("idempotency_key IS NOT NULL"),
                    sqlite_where=sa.text("idempotency_key IS NOT NULL"))


def downgrade() -> None:
    op.drop_index("ix_orders_idempotency_expiry", table_name="orders")
    op.execute("UPDATE orders SET idempotency_key = 'expired-' || CAST(id AS VARCHAR(36)) "
               "WHERE idempotency_key IS NULL")
    with op.batch_alter_table("orders") as batch:
        batch.alter_column("idempotency_key", existing_type=sa.String(200), nullable=False)
