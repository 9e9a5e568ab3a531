"""SP-API connections: the state of their notifications from Amazon

The SQS destination Amazon delivers to, each notification type's subscription (its id, its
destination, its status) and the last error from ``POST /v1/connections/{id}/subscriptions``.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07 21:20:00.000000
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("spapi_connections", sa.Column("notification_destination_id", sa.Text()))
    op.add_column(
        "spapi_connections",
        sa.Column(
            "notification_subscriptions",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default="{}",
            nullable=False,
        ),
    )
    op.add_column("spapi_connections", sa.Column("notifications_error", sa.Text()))


def downgrade() -> None:
    op.drop_column("spapi_connections", "notifications_error")
    op.drop_column("spapi_connections", "notification_subscriptions")
    op.drop_column("spapi_connections", "notification_destination_id")
