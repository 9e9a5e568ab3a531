"""What the gateway does with each event type it consumes (fulfillment.v1): a confirmed or
updated shipment becomes a confirmation to push to Amazon, a cancellation and a refund a feed
message (ingest holds the sellers' SP-API
connections: it is Orderflow's gateway to Amazon). The consumer runner gives each handler a
unit of work joined to its transaction and commits it with the inbox row."""

from __future__ import annotations

from ingest.amazon.service_layer import handlers
from ingest.amazon.service_layer.unit_of_work import GatewayUnitOfWork
from shared.events.fulfillment import (
    ORDER_CANCELED,
    REFUND_ISSUED,
    SHIPMENT_CONFIRMED,
    SHIPMENT_UPDATED,
    OrderCanceled,
    RefundIssued,
    Shipment,
)
from shared.messaging.envelope import CloudEvent
from shared.messaging.inbox import Handler


async def on_shipment(uow: GatewayUnitOfWork, event: CloudEvent, payload: Shipment) -> None:
    await handlers.record_shipment(
        uow, shipment=payload, version=event.aggregateversion or 0, event_type=event.type
    )


async def on_canceled(uow: GatewayUnitOfWork, event: CloudEvent, payload: OrderCanceled) -> None:
    await handlers.record_cancellation(
        uow, cancellation=payload, version=event.aggregateversion or 0, event_type=event.type
    )


async def on_refund(uow: GatewayUnitOfWork, event: CloudEvent, payload: RefundIssued) -> None:
    await handlers.record_refund(
        uow, refund=payload, version=event.aggregateversion or 0, event_type=event.type
    )


def handler_table() -> dict[str, Handler[GatewayUnitOfWork]]:
    return {
        SHIPMENT_CONFIRMED: on_shipment,
        SHIPMENT_UPDATED: on_shipment,
        ORDER_CANCELED: on_canceled,
        REFUND_ISSUED: on_refund,
    }
