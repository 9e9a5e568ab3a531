"""The daily ads rollup the consumer keeps (docs/adr/0060), backfilled from the ad rows held;
the index a page of SKUs reads its series through

The backfill is the rollup from scratch: the statement the consumer computes an ad row's share
with, over every ad row, by day, week and month, in this migration's transaction. Run it with
the consumer stopped, as migrations run before a release starts.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-08 02:40:00.000000
"""

import sqlalchemy as sa
from alembic import op

from analytics.adapters.daily_ads import FIGURES, KEY, contributions_sql

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "daily_ads",
        sa.Column("seller_id", sa.Text(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("currency_code", sa.Text(), nullable=False),
        sa.Column("asin", sa.Text(), nullable=False),
        sa.Column("seller_sku", sa.Text(), nullable=False),
        sa.Column("attributed_orders", sa.BigInteger(), nullable=False),
        sa.Column("spend", sa.Numeric(20, 4), nullable=False),
        sa.Column("attributed_sales", sa.Numeric(20, 4), nullable=False),
        sa.Column("clicks", sa.BigInteger(), nullable=False),
        sa.Column("impressions", sa.BigInteger(), nullable=False),
        sa.Column("ad_rows", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint(*KEY),
    )
    op.create_index(
        "ix_daily_sales_sku",
        "daily_sales",
        ["seller_id", "dim1", "day"],
        postgresql_where=sa.text("kind = 'sku'"),
    )
    columns = ", ".join(KEY + FIGURES)
    op.execute(f"INSERT INTO daily_ads ({columns}) {contributions_sql('TRUE')}")


def downgrade() -> None:
    op.drop_table("daily_ads")
    op.drop_index("ix_daily_sales_sku", table_name="daily_sales")
