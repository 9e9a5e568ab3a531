"""The outbox notifies the relay from a statement-level trigger instead of a statement each
writing transaction sent

PostgreSQL delivers the notification on commit, once per transaction however many rows or
statements. The services send no ``SELECT pg_notify(...)`` of their own after writing to the
outbox, and no code path that writes to the outbox can forget it. See
docs/adr/0005-outbox-notify-trigger.md.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-26 22:45:00.000000
"""

from shared.messaging.migrations import create_outbox_notify_trigger, drop_outbox_notify_trigger

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_outbox_notify_trigger()


def downgrade() -> None:
    drop_outbox_notify_trigger()
