"""the outbox keeps each payload out of line (docs/adr/0013-outbox-payload-out-of-line.md)

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26 12:00:00.000000
"""

from shared.messaging.migrations import store_outbox_payload_inline as downgrade
from shared.messaging.migrations import store_outbox_payload_out_of_line as upgrade

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

__all__ = ["downgrade", "upgrade"]
