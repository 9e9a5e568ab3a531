"""orders.pii_removed_at and an index of orders whose buyer PII is due for removal

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26 06:50:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("orders", sa.Column("pii_removed_at", sa.DateTime(timezone=True), nullable=True))
    op.create_index(
        "ix_orders_pii_due",
        "orders",
        ["last_update_date"],
        unique=False,
        postgresql_where=sa.text(
            "order_status IN ('Shipped', 'Canceled') AND (snapshot -> 'buyer_pii') IS NOT NULL"
        ),
    )


def downgrade() -> None:
    op.drop_index(
        "ix_orders_pii_due",
        table_name="orders",
        postgresql_where=sa.text(
            "order_status IN ('Shipped', 'Canceled') AND (snapshot -> 'buyer_pii') IS NOT NULL"
        ),
    )
    op.drop_column("orders", "pii_removed_at")
