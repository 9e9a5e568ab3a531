"""What defects does with each event type it consumes: orders.v1 snapshots and fulfillment.v1
facts, kept as the evidence behind the cases (``defects.service_layer.handlers.keep_*``).

Each handler takes the unit of work that joins the consumer runner's transaction and a run of
consecutive events of one partition; ``bootstrap`` gives each to the runner as one ``Batched``
handler for all the event types it handles.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from defects.service_layer import handlers
from defects.service_layer.unit_of_work import UnitOfWork
from shared.events import fulfillment, orders
from shared.messaging.inbox import Events

BatchHandler = Callable[[UnitOfWork, Events], Awaitable[None]]

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


HANDLERS: dict[str, BatchHandler] = {
    orders.ORDER_CREATED: on_orders,
    orders.ORDER_UPDATED: on_orders,
    **{event_type: on_fulfillment for event_type in FULFILLMENT_FACTS},
}
