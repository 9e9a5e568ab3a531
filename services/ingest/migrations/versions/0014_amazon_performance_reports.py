"""amazon_performance_reports: Amazon's seller performance reports, requested per connection on
a schedule, followed until done, stored and announced (account_health.amazon_reported). See
docs/adr/0051-account-health-as-amazon-measures-it.md.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-08 00:00:00.000000
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB, UUID

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

TABLE = "amazon_performance_reports"


def upgrade() -> None:
    op.create_table(
        TABLE,
        sa.Column("id", sa.BigInteger(), primary_key=True, autoincrement=True),
        sa.Column("seller_id", sa.Text(), nullable=False),
        sa.Column("connection_id", UUID(as_uuid=True), nullable=False),
        sa.Column("marketplace_ids", JSONB(), nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("report_id", sa.Text()),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("next_check_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True)),
        sa.Column("reported_at", sa.DateTime(timezone=True)),
        sa.Column("document", JSONB()),
        sa.Column("error", sa.Text()),
    )
    op.create_index(
        "ix_amazon_performance_reports_connection", TABLE, ["connection_id", "requested_at"]
    )
    op.create_index(
        "ix_amazon_performance_reports_open",
        TABLE,
        ["next_check_at"],
        postgresql_where=sa.text("status IN ('requesting', 'requested')"),
    )


def downgrade() -> None:
    op.drop_table(TABLE)
