"""The gateway's announcements as the CloudEvents the outbox stores: a shipment confirmation
sent to Amazon or refused by it (``shipment.amazon_confirmed`` /
``shipment.amazon_confirmation_failed`` on orders.v1), a cancellation or refund accepted or
refused (``cancellation.amazon_accepted`` / ``_failed``, ``refund.amazon_accepted`` /
``_failed``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ingest.amazon.domain.confirmations import Status
from ingest.amazon.domain.submissions import Kind
from ingest.amazon.domain.submissions import Status as SubmissionStatus
from shared import topics
from shared.events import orders as oev
from shared.events.registry import build_event
from shared.messaging.envelope import CloudEvent

SOURCE = "ingest"


def announcement(row: Any, status: Status, error: str | None, at: datetime) -> CloudEvent:
    sent = status is Status.SENT
    return build_event(
        topic=topics.ORDERS,
        event_type=(
            oev.SHIPMENT_AMAZON_CONFIRMED if sent else oev.SHIPMENT_AMAZON_CONFIRMATION_FAILED
        ),
        payload=oev.AmazonConfirmation(
            amazon_order_id=row.amazon_order_id,
            seller_id=row.seller_id,
            shipment_id=row.shipment_id,
            fulfillment_version=row.version,
            status="sent" if sent else "failed",
            error=None if sent else error,
            at=at,
        ),
        source=SOURCE,
        subject=row.amazon_order_id,
        seller_id=row.seller_id,
        version=row.version,
    )


def feed_announcement(
    row: Any, status: SubmissionStatus, values: dict[str, Any], at: datetime
) -> CloudEvent:
    """A cancellation or refund Amazon's processing report accepted or refused."""
    accepted = status is SubmissionStatus.ACCEPTED
    cancellation = row.kind == Kind.CANCELLATION
    if cancellation:
        event_type = (
            oev.CANCELLATION_AMAZON_ACCEPTED if accepted else oev.CANCELLATION_AMAZON_FAILED
        )
    else:
        event_type = oev.REFUND_AMAZON_ACCEPTED if accepted else oev.REFUND_AMAZON_FAILED
    return build_event(
        topic=topics.ORDERS,
        event_type=event_type,
        payload=oev.AmazonFeedResult(
            amazon_order_id=row.amazon_order_id,
            seller_id=row.seller_id,
            submission_id=str(row.id),
            kind=row.kind,
            refund_id=None if cancellation else row.reference,
            fulfillment_version=row.version,
            status="accepted" if accepted else "failed",
            result_code=values.get("result_code"),
            error=None if accepted else values.get("last_error"),
            feed_id=row.feed_id,
            at=at,
        ),
        source=SOURCE,
        subject=row.amazon_order_id,
        seller_id=row.seller_id,
        version=row.version,
    )
