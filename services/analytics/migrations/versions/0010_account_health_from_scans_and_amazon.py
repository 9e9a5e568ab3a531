"""Account health as Amazon measures it: what the carriers' scans say of each shipment, and
Amazon's own figures (its seller performance report), one row per seller and marketplace

Shipments stored before hold no scan: they count as untracked until a scan arrives.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-08 00:00:00.000000
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

SCAN_COLUMNS = ("latest_delivery_date", "tracking_given_at", "first_scan_at", "delivered_at")


def upgrade() -> None:
    for name in SCAN_COLUMNS:
        op.add_column("shipments", sa.Column(name, sa.DateTime(timezone=True)))
    op.create_table(
        "amazon_account_health",
        sa.Column("subject", sa.Text(), primary_key=True),
        sa.Column("seller_id", sa.Text(), nullable=False),
        sa.Column("marketplace_id", sa.Text(), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.Column("report_id", sa.Text(), nullable=False),
        sa.Column("reported_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("fetched_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("account_status", sa.Text()),
        sa.Column("metrics", JSONB(), nullable=False),
    )
    op.create_index("ix_amazon_account_health_seller", "amazon_account_health", ["seller_id"])


def downgrade() -> None:
    op.drop_table("amazon_account_health")
    for name in reversed(SCAN_COLUMNS):
        op.drop_column("shipments", name)
