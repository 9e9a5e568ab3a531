"""the outbox keeps each payload out of line (TOAST), so marking a row sent rewrites ~200 bytes

The relay's UPDATE of sent_at, kafka_partition and kafka_offset writes a new row version; with
toast_tuple_target = 256 the payload lives in the TOAST table and the new row version only
points at it. See docs/adr/0013-outbox-payload-out-of-line.md.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26 12:00:00.000000
"""

from shared.messaging.migrations import (
    store_outbox_payload_inline,
    store_outbox_payload_out_of_line,
)

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    store_outbox_payload_out_of_line()


def downgrade() -> None:
    store_outbox_payload_inline()
