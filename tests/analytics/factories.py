"""Contract payloads for tests: orders, shipments, cancellations, ship-late flags, cases."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

from orderflow_testkit.samples import order_id
from shared.events.common import Money
from shared.events.defects import ClaimEvent, FeedbackEvent
from shared.events.fulfillment import ItemQuantity, OrderCanceled, OrderShipLate, Shipment
from shared.events.orders import OrderItem, OrderSnapshot

SELLER = "A2SELLER1EXAMPLE"


def usd(amount: str) -> Money:
    return Money(amount=Decimal(amount), currency_code="USD")


def snapshot(
    *,
    purchased: datetime,
    channel: str = "MFN",
    latest_ship: datetime | None = None,
    status: str = "Unshipped",
    version: int = 1,
    oid: str | None = None,
    seller: str = SELLER,
    quantity: int = 1,
    unit_price: str = "20.00",
    asin: str = "B0MUG00001",
    sku: str = "MUG-BLUE",
    marketplace: str = "ATVPDKIKX0DER",
    currency: str = "USD",
    replaces: str | None = None,
) -> OrderSnapshot:
    """An order snapshot; ``replaces``: a replacement order sent in place of that order."""
    oid = oid or order_id()
    total = Money(amount=Decimal(unit_price) * quantity, currency_code=currency)
    return OrderSnapshot(
        amazon_order_id=oid,
        seller_id=seller,
        version=version,
        marketplace_id=marketplace,
        purchase_date=purchased,
        last_update_date=purchased + timedelta(minutes=version),
        order_status=status,  # type: ignore[arg-type]
        fulfillment_channel=channel,  # type: ignore[arg-type]
        order_total=None if status == "Pending" else total,
        latest_ship_date=latest_ship,
        is_replacement_order=replaces is not None,
        replaced_order_id=replaces,
        items=(
            OrderItem(
                order_item_id=f"{oid}-1",
                asin=asin,
                seller_sku=sku,
                quantity_ordered=quantity,
                item_price=None if status == "Pending" else total,
            ),
        ),
    )


def shipment(
    order: OrderSnapshot,
    *,
    shipped: datetime,
    on_time: bool = True,
    valid_tracking: bool = True,
    shipment_id: str | None = None,
    latest_delivery: datetime | None = None,
    first_scan: datetime | None = None,
    delivered: datetime | None = None,
) -> Shipment:
    """A shipment; ``first_scan`` and ``delivered``: what the carrier's scans said of it."""
    return Shipment(
        amazon_order_id=order.amazon_order_id,
        seller_id=order.seller_id,
        marketplace_id=order.marketplace_id,
        fulfillment_channel=order.fulfillment_channel,
        order_status="Shipped",
        shipment_id=shipment_id or f"shp-{order.amazon_order_id}",
        carrier_code="UPS",
        tracking_number="1Z999AA10123456784",
        ship_date=shipped,
        items=(ItemQuantity(order_item_id=f"{order.amazon_order_id}-1", quantity=1),),
        latest_ship_date=order.latest_ship_date,
        on_time=on_time,
        valid_tracking=valid_tracking,
        latest_delivery_date=latest_delivery,
        tracking_given_at=shipped,
        first_scan_at=first_scan,
        delivered_at=delivered,
    )


def cancel(
    order: OrderSnapshot, *, at: datetime, by: str = "seller", buyer_requested: bool = False
) -> OrderCanceled:
    return OrderCanceled(
        amazon_order_id=order.amazon_order_id,
        seller_id=order.seller_id,
        fulfillment_channel=order.fulfillment_channel,
        order_status="Canceled",
        reason="BuyerCanceled" if buyer_requested else "NoInventory",
        buyer_requested=buyer_requested,
        canceled_by=by,
        canceled_at=at,
        purchase_date=order.purchase_date,
    )


def ship_late(order: OrderSnapshot, *, at: datetime) -> OrderShipLate:
    assert order.latest_ship_date is not None
    return OrderShipLate(
        amazon_order_id=order.amazon_order_id,
        seller_id=order.seller_id,
        fulfillment_channel=order.fulfillment_channel,
        order_status="Unshipped",
        latest_ship_date=order.latest_ship_date,
        flagged_at=at,
    )


def claim(
    order: OrderSnapshot, *, kind: str = "a_to_z", counts: bool, status: str = "filed"
) -> ClaimEvent:
    return ClaimEvent(
        amazon_order_id=order.amazon_order_id,
        seller_id=order.seller_id,
        fulfillment_channel=order.fulfillment_channel,
        order_purchase_date=order.purchase_date,
        counts_toward_odr=counts,
        odr_rule="granted_seller_at_fault" if counts else "not_counted",
        claim_id=f"{kind}-{order.amazon_order_id}",
        kind=kind,
        reason="not_received",
        status=status,
        filed_at=order.purchase_date + timedelta(days=5),
    )


def feedback(
    order: OrderSnapshot, *, rating: int, counts: bool, removed: datetime | None = None
) -> FeedbackEvent:
    return FeedbackEvent(
        amazon_order_id=order.amazon_order_id,
        seller_id=order.seller_id,
        fulfillment_channel=order.fulfillment_channel,
        order_purchase_date=order.purchase_date,
        counts_toward_odr=counts,
        odr_rule="negative_feedback" if counts else "removed",
        feedback_id=f"fb-{order.amazon_order_id}",
        rating=rating,
        received_at=order.purchase_date + timedelta(days=4),
        removed_at=removed,
    )
