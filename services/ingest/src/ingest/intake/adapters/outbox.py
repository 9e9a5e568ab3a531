"""Intake's domain events as the CloudEvents the outbox stores (``shared.events`` contracts)."""

from __future__ import annotations

from ingest.intake.domain.events import AdRowReported, OrderAccepted
from shared import topics
from shared.events.ads import AD_PERFORMANCE_REPORTED
from shared.events.orders import ORDER_CREATED, ORDER_UPDATED
from shared.events.registry import build_event
from shared.messaging.envelope import CloudEvent

SOURCE = "ingest"


def order_event(event: OrderAccepted) -> CloudEvent:
    return build_event(
        topic=topics.ORDERS,
        event_type=ORDER_CREATED if event.created else ORDER_UPDATED,
        payload=event.snapshot,
        source=SOURCE,
        subject=event.amazon_order_id,
        seller_id=event.seller_id,
        version=event.version,
        correlation_id=event.correlation_id,
    )


def ad_event(event: AdRowReported) -> CloudEvent:
    return build_event(
        topic=topics.ADS,
        event_type=AD_PERFORMANCE_REPORTED,
        payload=event.row,
        source=SOURCE,
        subject=event.subject,
        seller_id=event.row.seller_id,
        version=event.version,
        correlation_id=event.correlation_id,
    )
