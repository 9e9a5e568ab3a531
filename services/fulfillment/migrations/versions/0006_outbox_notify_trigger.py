"""the outbox notifies the relay from a trigger (docs/adr/0005-outbox-notify-trigger.md)"""

from shared.messaging.migrations import create_outbox_notify_trigger as upgrade
from shared.messaging.migrations import drop_outbox_notify_trigger as downgrade

revision = "0006"
down_revision = "0005"

__all__ = ["downgrade", "upgrade"]
