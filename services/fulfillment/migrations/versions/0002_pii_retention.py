"""an index of closed orders that still hold buyer PII (the PII purge's work list)

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26 06:55:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

WHERE = (
    "status IN ('Shipped', 'Canceled') AND "
    "(jsonb_typeof(doc -> 'buyer_pii') = 'object' OR buyer_email_hash IS NOT NULL)"
)


def upgrade() -> None:
    op.create_index(
        "ix_orders_pii_due",
        "orders",
        ["updated_at"],
        unique=False,
        postgresql_where=sa.text(WHERE),
    )


def downgrade() -> None:
    op.drop_index("ix_orders_pii_due", table_name="orders", postgresql_where=sa.text(WHERE))
