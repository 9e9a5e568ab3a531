"""Domain events to fulfillment.v1 CloudEvents (the contract in shared.events.fulfillment);
the unit of work queues them with ``shared.messaging.outbox.add_events``."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from fulfillment.domain import events as ev
from fulfillment.domain.model import Order, Return, Shipment
from shared import topics
from shared.events import fulfillment as contract
from shared.events.common import Money
from shared.events.registry import build_event
from shared.messaging.envelope import CloudEvent

SOURCE = "fulfillment"


def cloud_events(order: Order, correlation_id: str | None = None) -> list[CloudEvent]:
    return [
        build_event(
            topic=topics.FULFILLMENT,
            event_type=event_type,
            payload=payload,
            source=SOURCE,
            subject=order.amazon_order_id,
            seller_id=order.seller_id,
            version=event.version,
            correlation_id=correlation_id,
        )
        for event in order.events
        for event_type, payload in [_payload(order, event)]
    ]


def _base(order: Order) -> dict[str, Any]:
    return {
        "amazon_order_id": order.amazon_order_id,
        "seller_id": order.seller_id,
        "marketplace_id": order.marketplace_id,
        "fulfillment_channel": order.fulfillment_channel,
        "order_status": order.status.value,
    }


def _payload(order: Order, event: ev.Event) -> tuple[str, BaseModel]:
    base = _base(order)
    match event:
        case ev.ShipmentConfirmed(shipment=s):
            return contract.SHIPMENT_CONFIRMED, _shipment(order, s, base)
        case ev.ShipmentUpdated(shipment=s):
            return contract.SHIPMENT_UPDATED, _shipment(order, s, base)
        case ev.ShipmentScanned(shipment=s, scan=scan):
            return contract.SHIPMENT_SCANNED, contract.ShipmentScanned(
                **_shipment(order, s, base).model_dump(),
                scan=contract.TrackingScan(status=scan.status, occurred_at=scan.occurred_at),
            )
        case ev.OrderCanceled(cancellation=c):
            return contract.ORDER_CANCELED, contract.OrderCanceled(
                **base,
                reason=c.reason,
                buyer_requested=c.buyer_requested,
                canceled_by=c.canceled_by,
                canceled_at=c.canceled_at,
                purchase_date=order.purchase_date,
            )
        case ev.RefundIssued(refund=r):
            currency = r.currency_code
            return contract.REFUND_ISSUED, contract.RefundIssued(
                **base,
                refund_id=r.refund_id,
                reason=r.reason,
                items=tuple(
                    contract.RefundItem(
                        order_item_id=x.order_item_id,
                        quantity=x.quantity,
                        amount=Money(amount=x.amount, currency_code=currency),
                    )
                    for x in r.lines
                ),
                total=Money(amount=r.total, currency_code=currency),
                refunded_at=r.refunded_at,
                return_id=r.return_id,
            )
        case ev.ReturnAuthorized(ret=ret):
            return contract.RETURN_AUTHORIZED, _return(ret, base)
        case ev.ReturnReceived(ret=ret):
            return contract.RETURN_RECEIVED, _return(ret, base)
        case ev.OrderShippedLate(latest_ship_date=lsd, flagged_at=at):
            return contract.ORDER_SHIP_LATE, contract.OrderShipLate(
                **base, latest_ship_date=lsd, flagged_at=at
            )
        case ev.PickupScheduled(pickup=p):
            return contract.PICKUP_SCHEDULED, contract.PickupScheduled(
                **base,
                pickup_id=p.pickup_id,
                carrier_code=p.carrier_code,
                window_start=p.window_start,
                window_end=p.window_end,
            )
    raise TypeError(f"no fulfillment.v1 message for {type(event).__name__}")


def _shipment(order: Order, s: Shipment, base: dict[str, Any]) -> contract.Shipment:
    return contract.Shipment(
        **base,
        shipment_id=s.shipment_id,
        carrier_code=s.carrier_code,
        carrier_name=s.carrier_name,
        ship_method=s.ship_method,
        tracking_number=s.tracking_number,
        ship_date=s.ship_date,
        items=tuple(
            contract.ItemQuantity(order_item_id=i.order_item_id, quantity=i.quantity)
            for i in s.items
        ),
        latest_ship_date=order.latest_ship_date,
        latest_delivery_date=order.latest_delivery_date,
        on_time=s.on_time,
        is_buy_shipping=s.is_buy_shipping,
        valid_tracking=s.valid_tracking,
        tracking_given_at=s.tracking_since,
        first_scan_at=s.first_scan_at,
        delivered_at=s.delivered_at,
    )


def _return(ret: Return, base: dict[str, Any]) -> contract.ReturnEvent:
    return contract.ReturnEvent(
        **base,
        return_id=ret.return_id,
        rma_id=ret.rma_id,
        reason=ret.reason,
        items=tuple(
            contract.ItemQuantity(order_item_id=i.order_item_id, quantity=i.quantity)
            for i in ret.items
        ),
        authorized_at=ret.authorized_at,
        received_at=ret.received_at,
    )
