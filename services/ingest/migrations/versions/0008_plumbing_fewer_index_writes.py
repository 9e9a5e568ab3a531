"""drop two plumbing indexes nothing reads (docs/adr/0015-no-unread-plumbing-indexes.md)

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-26 20:15:00.000000
"""

from shared.messaging.migrations import drop_unread_plumbing_indexes as upgrade
from shared.messaging.migrations import restore_unread_plumbing_indexes as downgrade

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

__all__ = ["downgrade", "upgrade"]
