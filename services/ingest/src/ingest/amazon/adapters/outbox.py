"""The gateway's announcements as the CloudEvents the outbox stores: a shipment confirmation
sent to Amazon or refused by it (``shipment.amazon_confirmed`` /
``shipment.amazon_confirmation_failed`` on orders.v1)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ingest.amazon.domain.confirmations import Status
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
