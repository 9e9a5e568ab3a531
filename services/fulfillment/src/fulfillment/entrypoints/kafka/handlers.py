"""What each orders.v1 event type does in fulfillment: the consumer runner's handler table.

Each handler is given the unit of work that joins the runner's transaction; the runner
commits it (with the inbox row) after the handler. Order snapshots (created and updated)
share one ``Batched`` handler, so a run of them is applied at once; Amazon's answers to a
shipment confirmation, a cancellation or a refund are recorded one by one.
"""

from __future__ import annotations

from fulfillment.dependencies import Dependencies
from fulfillment.service_layer import handlers
from fulfillment.service_layer.unit_of_work import UnitOfWork
from shared.events.orders import (
    CANCELLATION_AMAZON_ACCEPTED,
    CANCELLATION_AMAZON_FAILED,
    ORDER_CREATED,
    ORDER_UPDATED,
    REFUND_AMAZON_ACCEPTED,
    REFUND_AMAZON_FAILED,
    SHIPMENT_AMAZON_CONFIRMATION_FAILED,
    SHIPMENT_AMAZON_CONFIRMED,
    AmazonConfirmation,
    AmazonFeedResult,
)
from shared.messaging.envelope import CloudEvent
from shared.messaging.inbox import Batched, Events, Handler


def handler_table(deps: Dependencies) -> dict[str, Handler[UnitOfWork]]:
    async def on_snapshots(uow: UnitOfWork, events: Events) -> None:
        """Each announcement carries the correlation id of the event that caused it."""
        run = [
            handlers.Incoming(payload, event.correlationid or str(event.id))
            for event, payload in events
        ]
        await handlers.apply_snapshots(uow, run, pii=deps.pii, clock=deps.now)

    async def on_amazon_answer(
        uow: UnitOfWork, event: CloudEvent, payload: AmazonConfirmation
    ) -> None:
        await handlers.record_amazon_confirmation(uow, payload)

    async def on_feed_result(uow: UnitOfWork, event: CloudEvent, payload: AmazonFeedResult) -> None:
        await handlers.record_amazon_feed_result(uow, payload)

    snapshots = Batched(on_snapshots)
    return {
        ORDER_CREATED: snapshots,
        ORDER_UPDATED: snapshots,
        SHIPMENT_AMAZON_CONFIRMED: on_amazon_answer,
        SHIPMENT_AMAZON_CONFIRMATION_FAILED: on_amazon_answer,
        CANCELLATION_AMAZON_ACCEPTED: on_feed_result,
        CANCELLATION_AMAZON_FAILED: on_feed_result,
        REFUND_AMAZON_ACCEPTED: on_feed_result,
        REFUND_AMAZON_FAILED: on_feed_result,
    }
