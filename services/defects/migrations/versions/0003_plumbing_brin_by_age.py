"""BRIN indexes on the outbox's and the inbox's creation times, for housekeeping

Housekeeping deletes outbox rows sent and inbox rows applied more than a retention period ago,
every round (10 s). Rows are appended in time order, so a BRIN index (a few pages, next to no
cost per insert) finds the old ones without scanning the tables. See
docs/adr/0014-brin-for-age-based-deletes.md.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26 14:00:00.000000
"""

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_outbox_created_brin", "outbox", ["created_at"], postgresql_using="brin")
    op.create_index("ix_inbox_applied_brin", "inbox", ["applied_at"], postgresql_using="brin")


def downgrade() -> None:
    op.drop_index("ix_inbox_applied_brin", table_name="inbox")
    op.drop_index("ix_outbox_created_brin", table_name="outbox")
