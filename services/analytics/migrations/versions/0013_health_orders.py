"""The account-health rollup the consumer keeps (docs/adr/0059), by order and by day,
backfilled from the rows held; the shipments indexed by promised delivery date

The backfill is the rollup from scratch: the statements the consumer recomputes an order's row
and its share of the days with, over every order, in this migration's transaction. Run it with
the consumer stopped, as migrations run before a release starts: an order an older consumer
wrote after the backfill read the tables would be missing from the rollup.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-08 03:00:00.000000
"""

import sqlalchemy as sa
from alembic import op

from analytics.adapters import health_days
from analytics.adapters.health_orders import BACKFILL

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "health_orders",
        sa.Column("amazon_order_id", sa.Text(), nullable=False),
        sa.Column("seller_id", sa.Text(), nullable=False),
        sa.Column("channel", sa.Text(), nullable=True),
        sa.Column("purchase_date", sa.DateTime(timezone=True), nullable=True),
        sa.Column("due_date", sa.DateTime(timezone=True), nullable=True),
        sa.Column("due", sa.Boolean(), nullable=False),
        sa.Column("late", sa.Boolean(), nullable=False),
        sa.Column("seller_cancel", sa.Boolean(), nullable=False),
        sa.Column("defective", sa.Boolean(), nullable=False),
        sa.Column("has_a_to_z", sa.Boolean(), nullable=False),
        sa.Column("has_chargeback", sa.Boolean(), nullable=False),
        sa.Column("has_negative_feedback", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("amazon_order_id", "seller_id"),
    )
    op.execute(BACKFILL)
    op.create_table(
        "health_days",
        sa.Column("seller_id", sa.Text(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("channel", sa.Text(), nullable=False),
        *(sa.Column(name, sa.BigInteger(), nullable=False) for name in health_days.FIGURES),
        sa.PrimaryKeyConstraint(*health_days.KEY),
    )
    op.create_index(
        "ix_health_orders_seller_purchase",
        "health_orders",
        ["seller_id", "purchase_date"],
        postgresql_include=[
            "channel",
            "seller_cancel",
            "defective",
            "has_a_to_z",
            "has_chargeback",
            "has_negative_feedback",
        ],
    )
    op.create_index(
        "ix_health_orders_seller_due",
        "health_orders",
        ["seller_id", "due_date"],
        postgresql_include=["channel", "due", "late"],
    )
    op.create_index(
        "ix_shipments_seller_promised",
        "shipments",
        ["seller_id", sa.text("COALESCE(latest_delivery_date, ship_date)")],
    )
    op.execute(health_days.BACKFILL)  # from health_orders and shipments, so after them
    op.execute("ANALYZE health_orders")
    op.execute("ANALYZE health_days")


def downgrade() -> None:
    op.drop_index("ix_shipments_seller_promised", table_name="shipments")
    op.drop_table("health_days")
    op.drop_table("health_orders")
