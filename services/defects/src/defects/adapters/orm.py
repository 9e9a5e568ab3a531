"""Defects' tables: orders and fulfillment facts as last heard, cases, their history and files."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    ForeignKey,
    Identity,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    Numeric,
    SmallInteger,
    Table,
    Text,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB, UUID

from defects.domain.state_machine import OPEN_CLAIM_STATUSES, OPEN_FEEDBACK_STATUSES
from shared.messaging.tables import define_plumbing


def _any_of(column: str, values: frozenset[str]) -> str:
    quoted = ", ".join(f"'{v}'" for v in sorted(values))
    return f"{column} IN ({quoted})"


# The open-cases lists read only open rows, through partial indexes whose predicates are the
# lists' filters (docs/adr/0061-reads-bounded-by-what-they-return.md).
OPEN_CLAIM = _any_of("status", OPEN_CLAIM_STATUSES)
OPEN_NEGATIVE_FEEDBACK = "rating <= 2 AND " + _any_of("status", OPEN_FEEDBACK_STATUSES)

metadata = MetaData()
plumbing = define_plumbing(metadata)

# The order as orders.v1 last told it (only the facts defects needs).
orders = Table(
    "orders",
    metadata,
    Column("amazon_order_id", Text, primary_key=True),
    Column("seller_id", Text, nullable=False),
    Column("version", BigInteger, nullable=False),
    Column("purchase_date", DateTime(timezone=True), nullable=False),
    Column("fulfillment_channel", Text),
    Column("order_status", Text, nullable=False),
    Column("marketplace_id", Text),
    Column("order_total_amount", Numeric(18, 2)),
    Column("order_total_currency", Text),
    Column("ship_service_level", Text),
    Column("latest_ship_date", DateTime(timezone=True)),
    Column("earliest_delivery_date", DateTime(timezone=True)),
    Column("latest_delivery_date", DateTime(timezone=True)),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

# What fulfillment.v1 said, one row per shipment / refund / return / cancellation / late flag.
fulfillment_facts = Table(
    "fulfillment_facts",
    metadata,
    Column("amazon_order_id", Text, primary_key=True),
    Column("kind", Text, primary_key=True),  # shipment, refund, return, cancellation, ship_late
    Column("fact_key", Text, primary_key=True),  # shipment_id, refund_id, return_id or "order"
    Column("seller_id", Text, nullable=False),
    Column("version", BigInteger, nullable=False),
    Column("data", JSONB, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

claims = Table(
    "claims",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("seq", BigInteger, Identity(), nullable=False, unique=True),
    Column("seller_id", Text, nullable=False),
    Column("amazon_order_id", Text, nullable=False),
    Column("kind", Text, nullable=False),
    Column("reason", Text, nullable=False),
    Column("amount", Numeric(18, 2)),
    Column("currency_code", Text),
    Column("filed_at", DateTime(timezone=True), nullable=False),
    Column("status", Text, nullable=False),
    Column("version", BigInteger, nullable=False),
    Column("decision", Text),
    Column("decided_at", DateTime(timezone=True)),
    Column("information_requested_at", DateTime(timezone=True)),
    Column("responded_at", DateTime(timezone=True)),
    Column("appealed_at", DateTime(timezone=True)),
    Column("appeal_outcome", Text),
    Column("appeal_decided_at", DateTime(timezone=True)),
    Column("due_at", DateTime(timezone=True)),
    Column("overdue_flagged_for", DateTime(timezone=True)),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Index("ix_claims_seller_seq", "seller_id", "seq"),
    Index("ix_claims_order", "amazon_order_id"),
    Index("ix_claims_due", "due_at", "seq", postgresql_where=text("due_at IS NOT NULL")),
    Index("ix_claims_open", "seller_id", "seq", postgresql_where=text(OPEN_CLAIM)),
)

# Every step of a claim, in order; a seller's response is the step that holds text and files.
claim_activity = Table(
    "claim_activity",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=True),
    Column("claim_id", UUID(as_uuid=True), ForeignKey("claims.id"), nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("action", Text, nullable=False),
    Column("from_status", Text),
    Column("to_status", Text, nullable=False),
    Column("version", BigInteger, nullable=False),
    Column("text", Text),
    Column("details", JSONB, nullable=False, server_default=text("'{}'::jsonb")),
    Index("ix_claim_activity_claim", "claim_id", "id"),
)

evidence_files = Table(
    "evidence_files",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("claim_id", UUID(as_uuid=True), ForeignKey("claims.id"), nullable=False),
    Column("activity_id", BigInteger, ForeignKey("claim_activity.id"), nullable=False),
    Column("filename", Text, nullable=False),
    Column("content_type", Text, nullable=False),
    Column("size_bytes", Integer, nullable=False),
    Column("sha256", Text, nullable=False),
    Column("content", LargeBinary, nullable=False),
    Column("uploaded_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Index("ix_evidence_files_claim", "claim_id"),
)

feedback = Table(
    "feedback",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("seq", BigInteger, Identity(), nullable=False, unique=True),
    Column("seller_id", Text, nullable=False),
    Column("amazon_order_id", Text, nullable=False),
    Column("rating", SmallInteger, nullable=False),
    Column("comment", Text),
    Column("received_at", DateTime(timezone=True), nullable=False),
    Column("status", Text, nullable=False),
    Column("version", BigInteger, nullable=False),
    Column("removal_reason", Text),
    Column("removal_requested_at", DateTime(timezone=True)),
    Column("removal_outcome_at", DateTime(timezone=True)),
    Column("removed_at", DateTime(timezone=True)),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Index("ix_feedback_seller_seq", "seller_id", "seq"),
    Index("ix_feedback_order", "amazon_order_id"),
    Index(
        "ix_feedback_open_negative",
        "seller_id",
        "seq",
        postgresql_where=text(OPEN_NEGATIVE_FEEDBACK),
    ),
)
