"""drop two plumbing indexes nothing reads (docs/adr/0015-no-unread-plumbing-indexes.md)"""

from shared.messaging.migrations import drop_unread_plumbing_indexes as upgrade
from shared.messaging.migrations import restore_unread_plumbing_indexes as downgrade

revision = "0005"
down_revision = "0004"

__all__ = ["downgrade", "upgrade"]
