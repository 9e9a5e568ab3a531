"""Request and response bodies of fulfillment's API (snake_case forms of Amazon's names)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from fulfillment.domain import model
from shared import inputs
from shared.api import files
from shared.events.fulfillment import ScanStatus

CancelReason = Literal[
    "NoInventory",
    "ShippingAddressUndeliverable",
    "CustomerExchange",
    "BuyerCanceled",
    "GeneralAdjustment",
    "CarrierCoverageFailure",
    "PricingError",
]
AdjustmentReason = Literal[
    "NoInventory",
    "CustomerReturn",
    "GeneralAdjustment",
    "CouldNotShip",
    "DifferentItem",
    "CustomerCancel",
    "PriceError",
    "Exchange",
    "Other",
]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ItemQuantityIn(_In):
    order_item_id: inputs.OrderItemId
    quantity: inputs.PositiveQuantity


class ShipmentIn(_In):
    carrier_code: inputs.CarrierCode = Field(examples=["UPS"])
    carrier_name: inputs.CarrierName | None = None
    ship_method: inputs.ShipMethod | None = None
    tracking_number: inputs.TrackingNumber
    ship_date: inputs.Moment
    items: list[ItemQuantityIn] | None = Field(
        default=None, max_length=500, description="omit to ship everything still unshipped"
    )
    is_buy_shipping: bool = False


class ShipmentPatch(_In):
    carrier_code: inputs.CarrierCode | None = None
    carrier_name: inputs.CarrierName | None = None
    ship_method: inputs.ShipMethod | None = None
    tracking_number: inputs.TrackingNumber | None = None


class CancellationIn(_In):
    reason: CancelReason


class RefundItemIn(_In):
    order_item_id: inputs.OrderItemId
    amount: inputs.Amount = Field(description='decimal string, e.g. "5.00"')
    quantity: inputs.Quantity = 0


class RefundIn(_In):
    reason: AdjustmentReason
    items: list[RefundItemIn] | None = Field(
        default=None, max_length=500, description="omit for a full refund"
    )


class ReturnIn(_In):
    rma_id: inputs.Identifier | None = None
    items: list[ItemQuantityIn] = Field(min_length=1, max_length=500)
    reason: Annotated[str, inputs.Line(200)] | None = None


class ReceiptIn(_In):
    refund: bool = Field(default=False, description="also refund the returned units")
    refund_reason: AdjustmentReason = "CustomerReturn"


class PickupIn(_In):
    carrier_code: inputs.CarrierCode
    window_start: inputs.Moment
    window_end: inputs.Moment


# ---- responses -----------------------------------------------------------------------------
class ItemOut(BaseModel):
    order_item_id: str
    asin: str
    seller_sku: str | None
    title: str | None
    quantity_ordered: int
    quantity_shipped: int
    item_price: Decimal | None
    item_tax: Decimal | None
    shipping_price: Decimal | None
    shipping_tax: Decimal | None
    is_buyer_requested_cancel: bool


class ItemQuantityOut(BaseModel):
    order_item_id: str
    quantity: int


class AmazonConfirmationOut(BaseModel):
    status: Literal["sent", "failed"]
    error: str | None = Field(description="Amazon's error when it refused the confirmation")
    at: datetime
    fulfillment_version: int = Field(description="the order version whose shipment was sent")


class AmazonFeedAnswerOut(BaseModel):
    status: Literal["accepted", "failed"]
    result_code: str | None = Field(description="Amazon's ResultMessageCode, when it gave one")
    error: str | None = Field(description="Amazon's ResultDescription when it refused it")
    at: datetime
    fulfillment_version: int = Field(description="the order version that was sent")
    feed_id: str | None = Field(description="the Amazon feed that carried it")


class ShipmentOut(BaseModel):
    shipment_id: str
    carrier_code: str
    carrier_name: str | None
    ship_method: str | None
    tracking_number: str
    ship_date: datetime
    items: list[ItemQuantityOut]
    confirmed_at: datetime
    updated_at: datetime | None
    on_time: bool
    valid_tracking: bool
    tracking_warning: str | None = Field(
        default=None,
        description="set when the number was accepted without a published format to check "
        "it against (or fits none of the carrier's usual formats): check it",
    )
    is_buy_shipping: bool
    amazon_confirmation: AmazonConfirmationOut | None = Field(
        default=None,
        description="what Amazon answered when ingest pushed this shipment (confirmShipment); "
        "null until it has answered",
    )


class RefundItemOut(BaseModel):
    order_item_id: str
    quantity: int
    amount: Decimal


class RefundOut(BaseModel):
    refund_id: str
    reason: str
    items: list[RefundItemOut]
    total: Decimal
    currency_code: str
    refunded_at: datetime
    return_id: str | None
    amazon: AmazonFeedAnswerOut | None = Field(
        default=None,
        description="what Amazon's feed processing report said to this refund (an "
        "OrderAdjustment sent by ingest); null until it has answered",
    )


class ReturnOut(BaseModel):
    return_id: str
    rma_id: str
    reason: str | None
    items: list[ItemQuantityOut]
    authorized_at: datetime
    received_at: datetime | None
    refund_id: str | None
    refund: RefundOut | None = None


class PickupOut(BaseModel):
    pickup_id: str
    carrier_code: str
    window_start: datetime
    window_end: datetime
    scheduled_at: datetime


class CancellationOut(BaseModel):
    reason: str
    buyer_requested: bool
    canceled_by: str
    canceled_at: datetime
    amazon: AmazonFeedAnswerOut | None = Field(
        default=None,
        description="what Amazon's feed processing report said to this cancellation (an "
        "OrderAcknowledgement sent by ingest); null until it has answered",
    )


class ShipByOut(BaseModel):
    latest_ship_date: datetime | None
    running: bool = Field(description="an FBM order waiting to be shipped")
    due_in_seconds: int | None
    overdue_by_seconds: int | None
    flagged_late: bool


class OrderSummaryOut(BaseModel):
    amazon_order_id: str
    seller_id: str
    status: str
    amazon_status: str
    fulfillment_channel: str | None
    sales_channel: str | None
    marketplace_id: str | None
    purchase_date: datetime
    latest_ship_date: datetime | None
    ship_service_level: str | None
    order_total: Decimal | None
    currency_code: str | None
    is_prime: bool
    is_business_order: bool
    is_replacement_order: bool
    replaced_order_id: str | None = Field(
        default=None, description="the order a replacement order was sent in place of"
    )
    is_buyer_requested_cancel: bool
    flagged_late: bool
    version: int
    items: list[ItemOut]


class OrderOut(OrderSummaryOut):
    earliest_ship_date: datetime | None
    latest_delivery_date: datetime | None
    ship_to: dict[str, Any] | None
    ship_by: ShipByOut
    allowed_actions: list[str]
    shipments: list[ShipmentOut]
    refunds: list[RefundOut]
    refunded_total: Decimal
    returns: list[ReturnOut]
    pickups: list[PickupOut]
    cancellation: CancellationOut | None
    pii_status: Literal["held", "removed", "none"] = Field(
        default="none",
        description="buyer PII: held (sealed; packing slips can be printed), removed "
        "(PII_RETENTION_DAYS after the order shipped or was canceled) or none",
    )
    pii_removed_at: datetime | None = None


class OrderPage(BaseModel):
    items: list[OrderSummaryOut]
    next_cursor: str | None = None
    applied_defaults: list[str] = Field(
        description="defaults applied because no explicit filter overrode them"
    )


class UploadOut(files.UploadOut):
    results: list[dict[str, Any]] = Field(description="per-row results (first 5,000)")


# ---- domain -> response ------------------------------------------------------------------
def _items(lines: tuple[model.ItemQuantity, ...]) -> list[ItemQuantityOut]:
    return [ItemQuantityOut(order_item_id=x.order_item_id, quantity=x.quantity) for x in lines]


def shipment_out(s: model.Shipment) -> ShipmentOut:
    return ShipmentOut(
        shipment_id=s.shipment_id,
        carrier_code=s.carrier_code,
        carrier_name=s.carrier_name,
        ship_method=s.ship_method,
        tracking_number=s.tracking_number,
        ship_date=s.ship_date,
        items=_items(s.items),
        confirmed_at=s.confirmed_at,
        updated_at=s.updated_at,
        on_time=s.on_time,
        valid_tracking=s.valid_tracking,
        tracking_warning=s.tracking_warning,
        is_buy_shipping=s.is_buy_shipping,
        amazon_confirmation=(
            AmazonConfirmationOut(
                status=a.status,
                error=a.error,
                at=a.at,
                fulfillment_version=a.fulfillment_version,
            )
            if (a := s.amazon_confirmation)
            else None
        ),
    )


def refund_out(r: model.Refund) -> RefundOut:
    return RefundOut(
        refund_id=r.refund_id,
        reason=r.reason,
        items=[
            RefundItemOut(order_item_id=x.order_item_id, quantity=x.quantity, amount=x.amount)
            for x in r.lines
        ],
        total=r.total,
        currency_code=r.currency_code,
        refunded_at=r.refunded_at,
        return_id=r.return_id,
        amazon=_feed_answer(r.amazon),
    )


def return_out(r: model.Return, refund: model.Refund | None = None) -> ReturnOut:
    return ReturnOut(
        return_id=r.return_id,
        rma_id=r.rma_id,
        reason=r.reason,
        items=_items(r.items),
        authorized_at=r.authorized_at,
        received_at=r.received_at,
        refund_id=r.refund_id,
        refund=refund_out(refund) if refund else None,
    )


def pickup_out(p: model.Pickup) -> PickupOut:
    return PickupOut(
        pickup_id=p.pickup_id,
        carrier_code=p.carrier_code,
        window_start=p.window_start,
        window_end=p.window_end,
        scheduled_at=p.scheduled_at,
    )


def cancellation_out(c: model.Cancellation) -> CancellationOut:
    return CancellationOut(
        reason=c.reason,
        buyer_requested=c.buyer_requested,
        canceled_by=c.canceled_by,
        canceled_at=c.canceled_at,
        amazon=_feed_answer(c.amazon),
    )


def _feed_answer(a: model.AmazonFeedAnswer | None) -> AmazonFeedAnswerOut | None:
    if a is None:
        return None
    return AmazonFeedAnswerOut(
        status=a.status,
        result_code=a.result_code,
        error=a.error,
        at=a.at,
        fulfillment_version=a.fulfillment_version,
        feed_id=a.feed_id,
    )


def _summary_fields(o: model.Order) -> dict[str, Any]:
    return {
        "amazon_order_id": o.amazon_order_id,
        "seller_id": o.seller_id,
        "status": o.status.value,
        "amazon_status": o.amazon_status.value,
        "fulfillment_channel": o.fulfillment_channel,
        "sales_channel": o.sales_channel,
        "marketplace_id": o.marketplace_id,
        "purchase_date": o.purchase_date,
        "latest_ship_date": o.latest_ship_date,
        "ship_service_level": o.ship_service_level,
        "order_total": o.order_total,
        "currency_code": o.currency_code,
        "is_prime": o.is_prime,
        "is_business_order": o.is_business_order,
        "is_replacement_order": o.is_replacement_order,
        "replaced_order_id": o.replaced_order_id,
        "is_buyer_requested_cancel": o.is_buyer_requested_cancel,
        "flagged_late": o.flagged_late_at is not None,
        "version": o.version,
        "items": [
            ItemOut(
                order_item_id=i.order_item_id,
                asin=i.asin,
                seller_sku=i.seller_sku,
                title=i.title,
                quantity_ordered=i.quantity_ordered,
                quantity_shipped=i.quantity_shipped,
                item_price=i.item_price,
                item_tax=i.item_tax,
                shipping_price=i.shipping_price,
                shipping_tax=i.shipping_tax,
                is_buyer_requested_cancel=i.is_buyer_requested_cancel,
            )
            for i in o.items
        ],
    }


def summary_out(o: model.Order) -> OrderSummaryOut:
    return OrderSummaryOut(**_summary_fields(o))


def order_out(o: model.Order, now: datetime) -> OrderOut:
    clock = o.clock(now)
    return OrderOut(
        **_summary_fields(o),
        earliest_ship_date=o.earliest_ship_date,
        latest_delivery_date=o.latest_delivery_date,
        ship_to=o.ship_to,
        ship_by=ShipByOut(
            latest_ship_date=clock.latest_ship_date,
            running=clock.running,
            due_in_seconds=clock.due_in_seconds,
            overdue_by_seconds=clock.overdue_by_seconds,
            flagged_late=clock.flagged_late,
        ),
        allowed_actions=o.allowed_actions(),
        shipments=[shipment_out(s) for s in o.shipments],
        refunds=[refund_out(r) for r in o.refunds],
        refunded_total=o.refunded_total(),
        returns=[return_out(r) for r in o.returns],
        pickups=[pickup_out(p) for p in o.pickups],
        cancellation=cancellation_out(o.cancellation) if o.cancellation else None,
        pii_status="held" if o.buyer_pii else "removed" if o.pii_removed_at else "none",
        pii_removed_at=o.pii_removed_at,
    )


# ---- carrier tracking events -----------------------------------------------------------------


class TrackingEventIn(_In):
    """One carrier scan, as a carrier or a tracking aggregator reports it."""

    carrier_code: inputs.CarrierCode = Field(
        description="the carrier code the shipment was confirmed with", examples=["UPS"]
    )
    tracking_number: inputs.TrackingNumber
    status: ScanStatus = Field(
        description="pre_transit (label made, not yet with the carrier: not a physical scan), "
        "in_transit, out_for_delivery, available_for_pickup, delivered, return_to_sender, "
        "failure"
    )
    occurred_at: inputs.Moment = Field(description="when the carrier scanned the parcel")


class ScannedShipmentOut(BaseModel):
    amazon_order_id: str
    shipment_id: str
    recorded: bool = Field(description="false: this scan was held already (a repeat)")
    first_scan_at: datetime | None = Field(description="the carrier's first physical scan")
    delivered_at: datetime | None = Field(description="the carrier's first delivered scan")
    scans: int = Field(description="scans held for the shipment")


class TrackingEventOut(BaseModel):
    carrier_code: str
    tracking_number: str
    status: str
    occurred_at: datetime
    recorded: bool = Field(description="true when at least one shipment took the scan as new")
    shipments: list[ScannedShipmentOut]
