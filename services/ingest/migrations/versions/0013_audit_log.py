"""Audit log: one append-only entry per change made through the API
(docs/adr/0050-audit-trail.md)
"""

from shared.db.migrations import create_audit_log as upgrade
from shared.db.migrations import drop_audit_log as downgrade

revision = "0013"
down_revision = "0012"

__all__ = ["downgrade", "upgrade"]
