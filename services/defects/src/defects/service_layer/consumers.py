"""What defects keeps of orders.v1 and fulfillment.v1: the facts behind the evidence packet.

Each handler runs in the consumer runner's transaction (with the inbox rows) and gets a run of
consecutive events of one partition, in order (a single event is a run of one). An order
snapshot replaces the stored one only when its version is newer; a fulfillment fact (one
shipment, refund, return, the cancellation, the late-shipment flag) only when fulfillment's
version is. Applying a run therefore comes down to: keep, per order (per fact), the first event
of the highest version in the run, and store it if it is newer than what is held, all in one
statement. That is what applying the events one by one would leave behind.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Any, TypeVar

from pydantic import BaseModel

from defects.service_layer.unit_of_work import UnitOfWork
from shared.events.fulfillment import (
    OrderCanceled,
    OrderShipLate,
    RefundIssued,
    ReturnEvent,
    Shipment,
)
from shared.events.orders import OrderSnapshot
from shared.messaging.envelope import CloudEvent
from shared.messaging.inbox import Events

K = TypeVar("K", bound=Hashable)


async def apply_orders(uow: UnitOfWork, events: Events) -> int:
    """Store each order's newest snapshot of the run over an older one; how many were stored."""
    newest = _newest(events, key=_order_id, version=_order_version)
    return await uow.orders.apply_snapshots([_order_row(order) for _, order in newest])


async def apply_fulfillment(uow: UnitOfWork, events: Events) -> int:
    """Store each fact's newest version of the run over an older one; how many were stored."""
    newest = _newest(events, key=_fact_id, version=_fact_version)
    return await uow.orders.apply_facts([_fact_row(event, payload) for event, payload in newest])


def _newest(
    events: Events,
    *,
    key: Callable[[CloudEvent, Any], K],
    version: Callable[[CloudEvent, Any], int],
) -> list[tuple[CloudEvent, Any]]:
    """Per key, the first event of the highest version (a later equal version would not apply)."""
    newest: dict[K, tuple[int, CloudEvent, Any]] = {}
    for event, payload in events:
        k, v = key(event, payload), version(event, payload)
        held = newest.get(k)
        if held is None or held[0] < v:
            newest[k] = (v, event, payload)
    return [(event, payload) for _, event, payload in newest.values()]


def _order_id(_: CloudEvent, order: OrderSnapshot) -> str:
    return order.amazon_order_id


def _order_version(_: CloudEvent, order: OrderSnapshot) -> int:
    return order.version


def _order_row(order: OrderSnapshot) -> dict[str, Any]:
    total = order.order_total
    return {
        "amazon_order_id": order.amazon_order_id,
        "seller_id": order.seller_id,
        "version": order.version,
        "purchase_date": order.purchase_date,
        "fulfillment_channel": order.fulfillment_channel,
        "order_status": order.order_status,
        "marketplace_id": order.marketplace_id,
        "order_total_amount": total.amount if total else None,
        "order_total_currency": total.currency_code if total else None,
        "ship_service_level": order.ship_service_level,
        "latest_ship_date": order.latest_ship_date,
        "earliest_delivery_date": order.earliest_delivery_date,
        "latest_delivery_date": order.latest_delivery_date,
    }


def fact_key(payload: BaseModel) -> tuple[str, str]:
    """(kind, key) under which a fulfillment event's fact is kept."""
    if isinstance(payload, Shipment):
        return "shipment", payload.shipment_id
    if isinstance(payload, RefundIssued):
        return "refund", payload.refund_id
    if isinstance(payload, ReturnEvent):
        return "return", payload.return_id
    if isinstance(payload, OrderCanceled):
        return "cancellation", "order"
    if isinstance(payload, OrderShipLate):
        return "ship_late", "order"
    raise TypeError(f"not a fact defects keeps: {type(payload).__name__}")


def _fact_id(_: CloudEvent, payload: Any) -> tuple[str, str, str]:
    return (payload.amazon_order_id, *fact_key(payload))


def _fact_version(event: CloudEvent, _: Any) -> int:
    """Fulfillment's version of the order, as the event announces it."""
    return event.aggregateversion


def _fact_row(event: CloudEvent, payload: Any) -> dict[str, Any]:
    kind, key = fact_key(payload)
    return {
        "amazon_order_id": payload.amazon_order_id,
        "kind": kind,
        "fact_key": key,
        "seller_id": payload.seller_id,
        "version": event.aggregateversion,
        "data": payload.model_dump_json(),  # straight to JSON text: no dict in between
    }
