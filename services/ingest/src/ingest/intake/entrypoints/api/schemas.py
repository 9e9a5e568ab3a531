"""Response bodies of ingest's API (requests are Amazon's shapes, in ``adapters.amazon_v0``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from shared.api import files


class FieldError(BaseModel):
    field: str
    message: str
    type: str | None = None


class IntakeOut(BaseModel):
    amazon_order_id: str
    result: Literal["created", "updated", "unchanged", "stale"]
    version: int


class BatchEntryOut(BaseModel):
    index: int
    amazon_order_id: str | None = None
    result: Literal["created", "updated", "unchanged", "stale", "rejected"]
    version: int | None = None
    status: int = Field(description="the HTTP status this order alone would have had")
    errors: list[FieldError] = []


class BatchOut(BaseModel):
    accepted: int
    rejected: int
    results: list[BatchEntryOut]


class PublishedEvent(BaseModel):
    event_id: str
    type: str
    topic: str
    version: int
    created_at: datetime
    sent_at: datetime | None
    partition: int | None
    offset: int | None


class ConfirmationOut(BaseModel):
    """A shipment confirmation pushed (or to be pushed) to Amazon with confirmShipment."""

    id: str
    seller_id: str
    amazon_order_id: str
    shipment_id: str
    version: int = Field(description="fulfillment's version of the order that produced it")
    event_type: str = Field(description="shipment.confirmed or shipment.updated")
    status: Literal["pending", "sent", "failed", "skipped"]
    attempts: int
    last_error: str | None = Field(
        description="Amazon's error (failed), the last transient error (pending), or why the "
        "confirmation is not sent (skipped)"
    )
    next_attempt_at: datetime | None
    sent_at: datetime | None
    created_at: datetime
    updated_at: datetime
    request: dict[str, Any] = Field(description="the confirmShipment body (no buyer PII)")


class SubmissionOut(BaseModel):
    """Something sent (or to be sent) to Amazon: a shipment confirmation (confirmShipment), a
    cancellation or an adjustment (feed messages)."""

    id: str
    kind: Literal["shipment_confirmation", "cancellation", "adjustment"]
    seller_id: str
    amazon_order_id: str
    reference: str | None = Field(
        description="what it answers in fulfillment: the shipment id, the refund id, or the "
        "order id for a cancellation"
    )
    version: int = Field(description="fulfillment's version of the order that produced it")
    event_type: str = Field(description="the fulfillment.v1 event that asked for it")
    status: Literal["pending", "submitted", "sent", "accepted", "failed", "skipped"]
    attempts: int
    last_error: str | None = Field(
        description="Amazon's message (failed), the last transient error (pending), or why it "
        "is not sent (skipped)"
    )
    result_code: str | None = Field(
        description="Amazon's ResultMessageCode for a feed message it refused"
    )
    marketplace_id: str | None
    feed_type: str | None = Field(description="the feed that carries it; none: confirmShipment")
    feed_id: str | None
    message_id: int | None = Field(description="its MessageID within that feed")
    next_attempt_at: datetime | None
    submitted_at: datetime | None
    sent_at: datetime | None = Field(description="when Amazon accepted it")
    created_at: datetime
    updated_at: datetime
    request: dict[str, Any] = Field(
        description="the confirmShipment body, or the feed message without its MessageID"
    )


class OrderOut(BaseModel):
    amazon_order_id: str
    seller_id: str
    order_status: str
    version: int
    last_update_date: datetime
    received_at: datetime
    updated_at: datetime
    intake_source: str
    all_events_published: bool
    events: list[PublishedEvent]
    order: dict[str, Any] = Field(description="the snapshot last published (buyer PII sealed)")
    amazon_shipment_confirmations: list[ConfirmationOut] = Field(
        default=[], description="shipment confirmations pushed to Amazon for this order"
    )
    amazon_submissions: list[SubmissionOut] = Field(
        default=[],
        description="everything sent to Amazon for this order (confirmations, cancellations, "
        "refunds), with Amazon's answer",
    )
    pii_status: Literal["held", "removed", "none"] = Field(
        default="none",
        description="buyer PII: held (sealed), removed (PII_RETENTION_DAYS after the order "
        "shipped or was canceled) or none (the order came without it)",
    )
    pii_removed_at: datetime | None = None


class QuarantineOut(BaseModel):
    id: int
    received_at: datetime
    seller_id: str | None
    source: str
    amazon_order_id: str | None
    reasons: list[FieldError]
    upload_id: str | None = None
    rows: list[int] | None = None


class UploadOut(files.UploadOut):
    orders_total: int
    orders_done: int
    errors: list[dict[str, Any]] = Field(description="row-level errors (first 1,000)")


def confirmation_out(row: Any) -> ConfirmationOut:
    return ConfirmationOut(
        id=str(row.id),
        seller_id=row.seller_id,
        amazon_order_id=row.amazon_order_id,
        shipment_id=row.shipment_id,
        version=row.version,
        event_type=row.event_type,
        status=row.status,
        attempts=row.attempts,
        last_error=row.last_error,
        next_attempt_at=row.next_attempt_at if row.status == "pending" else None,
        sent_at=row.sent_at,
        created_at=row.created_at,
        updated_at=row.updated_at,
        request=row.payload,
    )


def submission_out(row: Any) -> SubmissionOut:
    return SubmissionOut(
        id=str(row.id),
        kind=row.kind,
        seller_id=row.seller_id,
        amazon_order_id=row.amazon_order_id,
        reference=row.reference or row.shipment_id,
        version=row.version,
        event_type=row.event_type,
        status=row.status,
        attempts=row.attempts,
        last_error=row.last_error,
        result_code=row.result_code,
        marketplace_id=row.marketplace_id or row.payload.get("marketplaceId"),
        feed_type=row.feed_type,
        feed_id=row.feed_id,
        message_id=row.message_id,
        next_attempt_at=row.next_attempt_at if row.status == "pending" else None,
        submitted_at=row.submitted_at,
        sent_at=row.sent_at,
        created_at=row.created_at,
        updated_at=row.updated_at,
        request=row.payload,
    )
