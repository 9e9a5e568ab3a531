"""The daily sales rollup the consumer keeps (docs/adr/0055), backfilled from the orders held

The backfill is the rollup from scratch: the statement the consumer computes an order's share
with, over every order, then the weekly and monthly sums, in this migration's transaction
(about 260 s a million orders with their items on a loaded 2-core machine, see
docs/performance/results.md). Run it with the consumer stopped, as migrations run before a
release starts: an order an older consumer wrote after the backfill read the orders would be
missing from the rollup.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07 23:50:00.000000
"""

import sqlalchemy as sa
from alembic import op

from analytics.adapters.daily_sales import FIGURES, KEY, coarser_sql, daily_sql

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "daily_sales",
        sa.Column("seller_id", sa.Text(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("currency_code", sa.Text(), nullable=False),
        sa.Column("dim1", sa.Text(), nullable=False),
        sa.Column("dim2", sa.Text(), nullable=False),
        sa.Column("orders", sa.BigInteger(), nullable=False),
        sa.Column("units", sa.BigInteger(), nullable=False),
        sa.Column("revenue", sa.Numeric(20, 4), nullable=False),
        sa.Column("canceled", sa.BigInteger(), nullable=False),
        sa.Column("replacements", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint(*KEY),
    )
    columns = ", ".join(KEY + FIGURES)
    op.execute(f"INSERT INTO daily_sales ({columns}) {daily_sql('TRUE')}")
    op.execute(f"INSERT INTO daily_sales ({columns}) {coarser_sql('daily_sales')}")


def downgrade() -> None:
    op.drop_table("daily_sales")
