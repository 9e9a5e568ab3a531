"""BRIN indexes on the outbox's and inbox's ages (docs/adr/0014-brin-for-age-based-deletes.md)"""

from shared.messaging.migrations import create_plumbing_brin_indexes as upgrade
from shared.messaging.migrations import drop_plumbing_brin_indexes as downgrade

revision = "0004"
down_revision = "0003"

__all__ = ["downgrade", "upgrade"]
