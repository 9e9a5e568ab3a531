"""the outbox notifies the relay from a trigger (docs/adr/0005-outbox-notify-trigger.md)

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-26 22:45:00.000000
"""

from shared.messaging.migrations import create_outbox_notify_trigger as upgrade
from shared.messaging.migrations import drop_outbox_notify_trigger as downgrade

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

__all__ = ["downgrade", "upgrade"]
