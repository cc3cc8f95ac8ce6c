"""outbox rows keep the W3C trace context of the work that wrote them (NULL with tracing off)

The relay publishes a row in a span that continues it, so the publish and the consumer's
handling join the trace of the request (or event) that wrote the row.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02
"""
import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("outbox", sa.Column("traceparent", sa.String(55), nullable=True))
    op.add_column("outbox", sa.Column("tracestate", sa.String(512), nullable=True))


def downgrade() -> None:
    op.drop_column("outbox", "tracestate")
    op.drop_column("outbox", "traceparent")
