"""Idempotency keys: each POST or PATCH with an ``Idempotency-Key`` and its first response

One row per key and scope (a seller, or an API key without one), claimed by one attempt at a
time, marked committed in the transaction that does the work, and kept with the response to
answer retries. Housekeeping deletes rows older than ``IDEMPOTENCY_KEY_HOURS`` through a BRIN
index on their creation time. See docs/adr/0040-idempotency-keys.md.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-07 18:10:00.000000
"""

from shared.db.migrations import create_idempotency_keys, drop_idempotency_keys

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_idempotency_keys()


def downgrade() -> None:
    drop_idempotency_keys()
