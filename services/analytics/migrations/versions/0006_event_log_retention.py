"""A BRIN index on the event log's recording time, for its retention

A background job deletes ``order_events`` rows older than EVENT_LOG_RETENTION_DAYS, in
batches; it finds them through this index (rows are appended in time order, so BRIN is a few
pages and next to no cost per insert). See docs/adr/0010-event-log-retention.md.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-27 05:00:00.000000
"""

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_order_events_recorded_brin", "order_events", ["recorded_at"], postgresql_using="brin"
    )


def downgrade() -> None:
    op.drop_index("ix_order_events_recorded_brin", table_name="order_events")
