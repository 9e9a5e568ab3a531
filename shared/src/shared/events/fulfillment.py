"""``fulfillment.v1``: what happens to an order in the seller's hands (fulfillment service).

``subject`` is the AmazonOrderId; ``aggregateversion`` is fulfillment's own version of the
order, which grows with every change it makes, so consumers keep the newest.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from shared.events.common import Money

SHIPMENT_CONFIRMED = "shipment.confirmed"
SHIPMENT_UPDATED = "shipment.updated"
ORDER_CANCELED = "order.canceled"
REFUND_ISSUED = "refund.issued"
RETURN_AUTHORIZED = "return.authorized"
RETURN_RECEIVED = "return.received"
ORDER_SHIP_LATE = "order.ship_late"
PICKUP_SCHEDULED = "pickup.scheduled"


class _Event(BaseModel):
    model_config = ConfigDict(frozen=True)

    amazon_order_id: str
    seller_id: str
    marketplace_id: str | None = None
    fulfillment_channel: str | None = Field(default=None, description="AFN (FBA) or MFN (FBM)")
    order_status: str = Field(description="the order's status after this change")


class ItemQuantity(BaseModel):
    model_config = ConfigDict(frozen=True)

    order_item_id: str
    quantity: int = Field(ge=1)


class Shipment(_Event):
    """``shipment.confirmed`` and ``shipment.updated``: the shipment as it now stands."""

    shipment_id: str
    carrier_code: str
    carrier_name: str | None = None
    ship_method: str | None = None
    tracking_number: str
    ship_date: datetime
    items: tuple[ItemQuantity, ...]
    latest_ship_date: datetime | None = None
    latest_delivery_date: datetime | None = None
    on_time: bool = Field(description="confirmed by LatestShipDate (or no LatestShipDate)")
    is_buy_shipping: bool = Field(
        default=False, description="label bought with Amazon Buy Shipping"
    )
    valid_tracking: bool = Field(description="tracking number matches the carrier's format")


class OrderCanceled(_Event):
    reason: str = Field(description="Amazon's cancellation reason code, e.g. NoInventory")
    buyer_requested: bool = Field(description="buyer-requested: excluded from cancel rate")
    canceled_by: str = Field(description="seller, buyer or amazon")
    canceled_at: datetime
    purchase_date: datetime | None = None


class RefundItem(BaseModel):
    model_config = ConfigDict(frozen=True)

    order_item_id: str
    quantity: int = Field(default=0, ge=0)
    amount: Money


class RefundIssued(_Event):
    refund_id: str
    reason: str = Field(description="Amazon adjustment reason, e.g. CustomerReturn")
    items: tuple[RefundItem, ...]
    total: Money
    refunded_at: datetime
    return_id: str | None = None


class ReturnEvent(_Event):
    """``return.authorized`` and ``return.received``."""

    return_id: str
    rma_id: str
    reason: str | None = None
    items: tuple[ItemQuantity, ...]
    authorized_at: datetime
    received_at: datetime | None = None


class OrderShipLate(_Event):
    latest_ship_date: datetime
    flagged_at: datetime


class PickupScheduled(_Event):
    pickup_id: str
    carrier_code: str
    window_start: datetime
    window_end: datetime


PAYLOADS: dict[str, type[BaseModel]] = {
    SHIPMENT_CONFIRMED: Shipment,
    SHIPMENT_UPDATED: Shipment,
    ORDER_CANCELED: OrderCanceled,
    REFUND_ISSUED: RefundIssued,
    RETURN_AUTHORIZED: ReturnEvent,
    RETURN_RECEIVED: ReturnEvent,
    ORDER_SHIP_LATE: OrderShipLate,
    PICKUP_SCHEDULED: PickupScheduled,
}
