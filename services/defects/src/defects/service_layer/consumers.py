"""What defects keeps of orders.v1 and fulfillment.v1: the facts behind the evidence packet.

Each handler runs in the consumer runner's transaction (with the inbox row). An order snapshot
replaces the stored one only when its version is newer; a fulfillment fact (one shipment,
refund, return, the cancellation, the late-shipment flag) only when fulfillment's version is.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from defects.service_layer.unit_of_work import UnitOfWork
from shared.envelope import CloudEvent
from shared.events.fulfillment import (
    OrderCanceled,
    OrderShipLate,
    RefundIssued,
    ReturnEvent,
    Shipment,
)
from shared.events.orders import OrderSnapshot


async def apply_order(uow: UnitOfWork, event: CloudEvent, order: OrderSnapshot) -> bool:
    total = order.order_total
    return await uow.orders.apply_snapshot(
        {
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
    )


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


async def apply_fulfillment(uow: UnitOfWork, event: CloudEvent, payload: Any) -> bool:
    kind, key = fact_key(payload)
    return await uow.orders.apply_fact(
        amazon_order_id=payload.amazon_order_id,
        kind=kind,
        fact_key=key,
        seller_id=payload.seller_id,
        version=event.aggregateversion,
        data=payload.model_dump(mode="json"),
    )
