"""Idempotency keys: each POST or PATCH with an ``Idempotency-Key`` and its first response
(docs/adr/0040-idempotency-keys.md)
"""

from shared.db.migrations import create_idempotency_keys as upgrade
from shared.db.migrations import drop_idempotency_keys as downgrade

revision = "0010"
down_revision = "0009"

__all__ = ["downgrade", "upgrade"]
