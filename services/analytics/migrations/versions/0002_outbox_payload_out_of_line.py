"""the outbox keeps each payload out of line (docs/adr/0013-outbox-payload-out-of-line.md)"""

from shared.messaging.migrations import store_outbox_payload_inline as downgrade
from shared.messaging.migrations import store_outbox_payload_out_of_line as upgrade

revision = "0002"
down_revision = "0001"

__all__ = ["downgrade", "upgrade"]
