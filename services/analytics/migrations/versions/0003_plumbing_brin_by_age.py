"""BRIN indexes on the outbox's and the inbox's ages (docs/adr/0014-brin-for-age-based-deletes.md)

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26 14:00:00.000000
"""

from shared.messaging.migrations import create_plumbing_brin_indexes as upgrade
from shared.messaging.migrations import drop_plumbing_brin_indexes as downgrade

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

__all__ = ["downgrade", "upgrade"]
