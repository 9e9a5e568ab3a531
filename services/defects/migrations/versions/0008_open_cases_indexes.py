"""The open-cases lists read only open rows (docs/adr/0061-reads-bounded-by-what-they-return.md):
a partial index of the open claims and one of the open negative feedback, each by seller and
filing order, their predicates the lists' filters (``defects.adapters.orm.OPEN_CLAIM`` and
``OPEN_NEGATIVE_FEEDBACK`` as this revision wrote them).
"""

from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

OPEN_CLAIM = (
    "status IN ('appeal_information_requested', 'appealed', 'information_requested', 'open', "
    "'responded', 'under_review')"
)
OPEN_NEGATIVE_FEEDBACK = "rating <= 2 AND status IN ('active', 'removal_requested')"


def upgrade() -> None:
    op.execute(f"CREATE INDEX ix_claims_open ON claims (seller_id, seq) WHERE {OPEN_CLAIM}")
    op.execute(
        "CREATE INDEX ix_feedback_open_negative ON feedback (seller_id, seq) "
        f"WHERE {OPEN_NEGATIVE_FEEDBACK}"
    )


def downgrade() -> None:
    op.drop_index("ix_feedback_open_negative", table_name="feedback")
    op.drop_index("ix_claims_open", table_name="claims")
