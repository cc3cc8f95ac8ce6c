"""reservations for the order saga, the stock ledger, and catalog's inbox

Existing products get an ``initial`` ledger row for the stock they hold now, so the
audit balances from this revision on.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25
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
        "reservations",
        sa.Column("order_id", sa.Uuid(), primary_key=True),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.CheckConstraint("status IN ('reserved', 'rejected', 'released', 'void')",
                           name="ck_reservations_status"),
    )
    op.create_table(
        "reservation_lines",
        sa.Column("order_id", sa.Uuid(), sa.ForeignKey("reservations.order_id", ondelete="CASCADE"),
                  primary_key=True),
        sa.Column("product_id", sa.Uuid(), primary_key=True),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.CheckConstraint("quantity > 0", name="ck_reservation_lines_quantity_positive"),
    )
    op.create_table(
        "stock_movements",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True,
                  autoincrement=True),
        sa.Column("product_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("delta", sa.Integer(), nullable=False),
        sa.Column("order_id", sa.Uuid(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
    )
    op.create_index("ix_stock_movements_product", "stock_movements", ["product_id"])
    op.execute("INSERT INTO stock_movements (product_id, kind, delta, created_at) "
               "SELECT id, 'initial', stock, updated_at FROM products WHERE stock <> 0")
    op.create_table(
        "inbox",
        sa.Column("consumer", sa.String(100), primary_key=True),
        sa.Column("message_id", sa.String(64), primary_key=True),
        sa.Column("received_at", UTCDateTime(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("inbox")
    op.drop_index("ix_stock_movements_product", table_name="stock_movements")
    op.drop_table("stock_movements")
    op.drop_table("reservation_lines")
    op.drop_table("reservations")
