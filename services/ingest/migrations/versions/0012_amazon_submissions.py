"""amazon_submissions: every action sent to Amazon, generalised from shipment confirmations

``amazon_shipment_confirmations`` is renamed (its rows, ids and statuses kept) and grows a
``kind`` (shipment_confirmation, cancellation, adjustment) and what a feed message needs: the
fulfillment reference it answers (the refund id; the order id for a cancellation), its
marketplace and feed type, and once submitted the feed id and message id, with Amazon's result
code. See docs/adr/0046-amazon-submissions.md.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07 21:10:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

OLD, NEW = "amazon_shipment_confirmations", "amazon_submissions"
INDEXES = (
    ("ix_amazon_confirmations_due", "ix_amazon_submissions_due"),
    ("ix_amazon_confirmations_order", "ix_amazon_submissions_order"),
    ("ix_amazon_confirmations_seller_status", "ix_amazon_submissions_seller_status"),
    ("ux_amazon_confirmations_shipment_version", "ux_amazon_submissions_shipment_version"),
)
COLUMNS = (
    ("reference", sa.Text()),
    ("marketplace_id", sa.Text()),
    ("feed_type", sa.Text()),
    ("feed_id", sa.Text()),
    ("message_id", sa.Integer()),
    ("result_code", sa.Text()),
    ("submitted_at", sa.DateTime(timezone=True)),
)


def upgrade() -> None:
    op.rename_table(OLD, NEW)
    for old, new in INDEXES:
        op.execute(f"ALTER INDEX {old} RENAME TO {new}")
    # Existing rows are shipment confirmations; new rows always name their kind.
    op.add_column(
        NEW,
        sa.Column("kind", sa.Text(), nullable=False, server_default="shipment_confirmation"),
    )
    op.alter_column(NEW, "kind", server_default=None)
    op.alter_column(NEW, "shipment_id", existing_type=sa.Text(), nullable=True)
    for name, type_ in COLUMNS:
        op.add_column(NEW, sa.Column(name, type_, nullable=True))
    op.create_index(
        "ux_amazon_submissions_reference",
        NEW,
        ["kind", "seller_id", "reference"],
        unique=True,
        postgresql_where=sa.text("reference IS NOT NULL"),
    )
    op.create_index(
        "ix_amazon_submissions_feed",
        NEW,
        ["feed_id"],
        postgresql_where=sa.text("status = 'submitted'"),
    )


def downgrade() -> None:
    op.drop_index("ix_amazon_submissions_feed", table_name=NEW)
    op.drop_index("ux_amazon_submissions_reference", table_name=NEW)
    op.execute(f"DELETE FROM {NEW} WHERE kind <> 'shipment_confirmation'")
    for name, _ in COLUMNS:
        op.drop_column(NEW, name)
    op.alter_column(NEW, "shipment_id", existing_type=sa.Text(), nullable=False)
    op.drop_column(NEW, "kind")
    for old, new in INDEXES:
        op.execute(f"ALTER INDEX {new} RENAME TO {old}")
    op.rename_table(NEW, OLD)
