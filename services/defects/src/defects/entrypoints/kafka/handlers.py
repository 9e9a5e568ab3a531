"""What defects does with each event type it consumes: orders.v1 snapshots and fulfillment.v1
facts, kept as the evidence behind the cases (``defects.service_layer.handlers.keep_*``).

Each handler takes a run of consecutive events of one partition (``Batched``) and the unit of
work that joins the consumer runner's transaction.
"""

from __future__ import annotations

from defects.service_layer import handlers
from defects.service_layer.unit_of_work import UnitOfWork
from shared.events import fulfillment, orders
from shared.messaging.inbox import Batched, Events, Handler

FULFILLMENT_FACTS = (
    fulfillment.SHIPMENT_CONFIRMED,
    fulfillment.SHIPMENT_UPDATED,
    fulfillment.ORDER_CANCELED,
    fulfillment.REFUND_ISSUED,
    fulfillment.RETURN_AUTHORIZED,
    fulfillment.RETURN_RECEIVED,
    fulfillment.ORDER_SHIP_LATE,
)


async def on_orders(uow: UnitOfWork, events: Events) -> None:
    await handlers.keep_order_snapshots(uow, snapshots=[order for _, order in events])


async def on_fulfillment(uow: UnitOfWork, events: Events) -> None:
    facts = [(event.aggregateversion, payload) for event, payload in events]
    await handlers.keep_fulfillment_facts(uow, facts=facts)


def table() -> dict[str, Handler[UnitOfWork]]:
    orders_handler, fulfillment_handler = Batched(on_orders), Batched(on_fulfillment)
    return {
        orders.ORDER_CREATED: orders_handler,
        orders.ORDER_UPDATED: orders_handler,
        **{event_type: fulfillment_handler for event_type in FULFILLMENT_FACTS},
    }
