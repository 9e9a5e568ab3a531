"""Idempotency keys: each POST or PATCH with an ``Idempotency-Key`` and its first response
(docs/adr/0040-idempotency-keys.md)

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-07 18:10:00.000000
"""

from shared.db.migrations import create_idempotency_keys as upgrade
from shared.db.migrations import drop_idempotency_keys as downgrade

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

__all__ = ["downgrade", "upgrade"]
