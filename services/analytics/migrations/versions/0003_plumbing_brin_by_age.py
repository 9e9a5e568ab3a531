"""BRIN indexes on the outbox's and the inbox's creation times, for housekeeping

Housekeeping deletes outbox rows sent and inbox rows applied more than a retention period ago,
every round (10 s). Rows are appended in time order, so a BRIN index (a few pages, next to no
cost per insert) finds the old ones without scanning the tables. See
docs/adr/0014-brin-for-age-based-deletes.md.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26 14:00:00.000000
"""

from shared.messaging.migrations import create_plumbing_brin_indexes, drop_plumbing_brin_indexes

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_plumbing_brin_indexes()


def downgrade() -> None:
    drop_plumbing_brin_indexes()
