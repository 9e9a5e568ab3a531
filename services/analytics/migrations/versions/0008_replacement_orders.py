"""Replacement orders on the orders read model: the flag (a replacement is not a sale) and
the order it replaces (shown in the trace)

Rows stored before hold no flag: they read as not replacements until their next snapshot.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07 22:00:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "orders",
        sa.Column("is_replacement_order", sa.Boolean(), nullable=False, server_default="false"),
    )
    op.add_column("orders", sa.Column("replaced_order_id", sa.Text()))


def downgrade() -> None:
    op.drop_column("orders", "replaced_order_id")
    op.drop_column("orders", "is_replacement_order")
