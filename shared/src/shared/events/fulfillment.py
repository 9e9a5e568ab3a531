"""``fulfillment.v1``: what happens to an order in the seller's hands (fulfillment service).

``subject`` is the AmazonOrderId; ``aggregateversion`` is fulfillment's own version of the
order, which grows with every change it makes, so consumers keep the newest.
"""

from __future__ import annotations

from typing import Annotated, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field

from shared import inputs
from shared.events.common import Id, Label, Money

SHIPMENT_CONFIRMED = "shipment.confirmed"
SHIPMENT_UPDATED = "shipment.updated"
ORDER_CANCELED = "order.canceled"
REFUND_ISSUED = "refund.issued"
RETURN_AUTHORIZED = "return.authorized"
RETURN_RECEIVED = "return.received"
ORDER_SHIP_LATE = "order.ship_late"
PICKUP_SCHEDULED = "pickup.scheduled"
SHIPMENT_SCANNED = "shipment.scanned"

# A carrier's tracking statuses, as aggregators name them (EasyPost's tracker statuses):
# ``pre_transit`` is a label created but not yet in the carrier's hands, so not a physical scan;
# every other status is one (docs/adr/0051-account-health-as-amazon-measures-it.md).
ScanStatus = Literal[
    "pre_transit",
    "in_transit",
    "out_for_delivery",
    "available_for_pickup",
    "delivered",
    "return_to_sender",
    "failure",
]
SCAN_STATUSES: tuple[str, ...] = get_args(ScanStatus)


class _Event(BaseModel):
    model_config = ConfigDict(frozen=True)

    amazon_order_id: inputs.AmazonOrderId
    seller_id: inputs.SellerId
    marketplace_id: inputs.MarketplaceId | None = None
    fulfillment_channel: Label | None = Field(default=None, description="AFN (FBA) or MFN (FBM)")
    order_status: Label = Field(description="the order's status after this change")


class ItemQuantity(BaseModel):
    model_config = ConfigDict(frozen=True)

    order_item_id: inputs.OrderItemId
    quantity: inputs.PositiveQuantity


class Shipment(_Event):
    """``shipment.confirmed`` and ``shipment.updated``: the shipment as it now stands."""

    shipment_id: Id
    carrier_code: inputs.CarrierCode
    carrier_name: inputs.CarrierName | None = None
    ship_method: inputs.ShipMethod | None = None
    tracking_number: inputs.TrackingNumber
    ship_date: inputs.Moment
    items: tuple[ItemQuantity, ...] = Field(max_length=1000)
    latest_ship_date: inputs.Moment | None = None
    latest_delivery_date: inputs.Moment | None = None
    on_time: bool = Field(description="confirmed by LatestShipDate (or no LatestShipDate)")
    is_buy_shipping: bool = Field(
        default=False, description="label bought with Amazon Buy Shipping"
    )
    valid_tracking: bool = Field(description="tracking number matches the carrier's format")
    tracking_given_at: inputs.Moment | None = Field(
        default=None,
        description="when the seller gave this carrier and tracking number (the confirmation, "
        "or the edit that changed them)",
    )
    first_scan_at: inputs.Moment | None = Field(
        default=None, description="the carrier's first physical scan (any status but pre_transit)"
    )
    delivered_at: inputs.Moment | None = Field(
        default=None, description="the carrier's first delivered scan"
    )


class TrackingScan(BaseModel):
    model_config = ConfigDict(frozen=True)

    status: ScanStatus
    occurred_at: inputs.Moment


class ShipmentScanned(Shipment):
    """``shipment.scanned``: a carrier scan was recorded (``POST /v1/tracking-events``); the
    shipment as it now stands, and the scan."""

    scan: TrackingScan


class OrderCanceled(_Event):
    reason: Label = Field(description="Amazon's cancellation reason code, e.g. NoInventory")
    buyer_requested: bool = Field(description="buyer-requested: excluded from cancel rate")
    canceled_by: Label = Field(description="seller, buyer or amazon")
    canceled_at: inputs.Moment
    purchase_date: inputs.Moment | None = None


class RefundComponent(BaseModel):
    model_config = ConfigDict(frozen=True)

    type: Label = Field(description="Amazon's price component Type, e.g. Principal, Shipping, Tax")
    amount: Money


class RefundItem(BaseModel):
    model_config = ConfigDict(frozen=True)

    order_item_id: inputs.OrderItemId
    quantity: inputs.Quantity = 0
    amount: Money
    components: tuple[RefundComponent, ...] = Field(
        default=(),
        max_length=20,
        description="the amount broken out by price component; empty: all of it is Principal",
    )


class RefundIssued(_Event):
    refund_id: Id
    reason: Label = Field(description="Amazon adjustment reason, e.g. CustomerReturn")
    items: tuple[RefundItem, ...] = Field(max_length=1000)
    total: Money
    refunded_at: inputs.Moment
    return_id: Id | None = None


class ReturnEvent(_Event):
    """``return.authorized`` and ``return.received``."""

    return_id: Id
    rma_id: Id
    reason: Annotated[str, inputs.Line(200)] | None = None
    items: tuple[ItemQuantity, ...] = Field(max_length=1000)
    authorized_at: inputs.Moment
    received_at: inputs.Moment | None = None


class OrderShipLate(_Event):
    latest_ship_date: inputs.Moment
    flagged_at: inputs.Moment


class PickupScheduled(_Event):
    pickup_id: Id
    carrier_code: inputs.CarrierCode
    window_start: inputs.Moment
    window_end: inputs.Moment


PAYLOADS: dict[str, type[BaseModel]] = {
    SHIPMENT_CONFIRMED: Shipment,
    SHIPMENT_UPDATED: Shipment,
    ORDER_CANCELED: OrderCanceled,
    REFUND_ISSUED: RefundIssued,
    RETURN_AUTHORIZED: ReturnEvent,
    RETURN_RECEIVED: ReturnEvent,
    ORDER_SHIP_LATE: OrderShipLate,
    PICKUP_SCHEDULED: PickupScheduled,
    SHIPMENT_SCANNED: ShipmentScanned,
}
