"""Drop two plumbing indexes nothing reads: fewer index writes per event

- ``ix_inbox_subject``: no query looks up the inbox by subject (an order's events are traced
  through analytics' ``order_events``), and every consumed event would write an entry.
- The unique constraint on ``outbox.event_id``: event ids are new UUIDs, nothing looks the
  outbox up by them, and a consumer's inbox drops a repeated id anyway; every insert and every
  sent mark (not a HOT update) would write a random leaf of it.

See docs/adr/0015-no-unread-plumbing-indexes.md.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-26 20:15:00.000000
"""

from shared.messaging.migrations import (
    drop_unread_plumbing_indexes,
    restore_unread_plumbing_indexes,
)

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    drop_unread_plumbing_indexes()


def downgrade() -> None:
    restore_unread_plumbing_indexes()
