"""``orders.v1``: order snapshots published by ingest (event-carried state transfer).

Every event carries the whole order as ingest knows it, and ``version`` (also the envelope's
``aggregateversion``) grows by one with each accepted change, so a consumer applies a snapshot
only when its version is newer than the one it holds.

Ingest's other news from Amazon travels here too, each type said to be no snapshot: Amazon's
answers to what was sent (confirmations, feed results) and Amazon's account-health report
(``shared.events.performance``, subject: the seller id).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from shared import inputs
from shared.events import performance
from shared.events.common import EncryptedPII, Id, Label, Money

ORDER_CREATED = "order.created"
ORDER_UPDATED = "order.updated"
SHIPMENT_AMAZON_CONFIRMED = "shipment.amazon_confirmed"
SHIPMENT_AMAZON_CONFIRMATION_FAILED = "shipment.amazon_confirmation_failed"
CANCELLATION_AMAZON_ACCEPTED = "cancellation.amazon_accepted"
CANCELLATION_AMAZON_FAILED = "cancellation.amazon_failed"
REFUND_AMAZON_ACCEPTED = "refund.amazon_accepted"
REFUND_AMAZON_FAILED = "refund.amazon_failed"
SCHEMA_VERSION = 1


class OrderStatus(StrEnum):
    """Amazon's order statuses (Orders API v0), as Amazon spells them."""

    PENDING_AVAILABILITY = "PendingAvailability"
    PENDING = "Pending"
    UNSHIPPED = "Unshipped"
    PARTIALLY_SHIPPED = "PartiallyShipped"
    SHIPPED = "Shipped"
    INVOICE_UNCONFIRMED = "InvoiceUnconfirmed"
    CANCELED = "Canceled"
    UNFULFILLABLE = "Unfulfillable"


class FulfillmentChannel(StrEnum):
    AFN = "AFN"  # Fulfilled by Amazon (FBA)
    MFN = "MFN"  # Fulfilled by the merchant (FBM)


class OrderItem(BaseModel):
    model_config = ConfigDict(frozen=True)

    order_item_id: inputs.OrderItemId
    asin: inputs.Asin
    seller_sku: inputs.SellerSku | None = None
    title: inputs.ProductTitle | None = None
    quantity_ordered: inputs.Quantity
    quantity_shipped: inputs.Quantity = 0
    item_price: Money | None = None
    item_tax: Money | None = None
    shipping_price: Money | None = None
    shipping_tax: Money | None = None
    promotion_discount: Money | None = None
    is_gift: bool = False
    condition_id: Label | None = None
    is_buyer_requested_cancel: bool = False
    buyer_cancel_reason: inputs.Reason | None = None


class ShipTo(BaseModel):
    """The part of the shipping address that is not PII: enough for analytics and routing."""

    model_config = ConfigDict(frozen=True)

    city: inputs.City | None = None
    state_or_region: inputs.Region | None = None
    postal_code: inputs.PostalCode | None = None
    country_code: inputs.CountryCode | None = None


class OrderSnapshot(BaseModel):
    model_config = ConfigDict(frozen=True)

    amazon_order_id: inputs.AmazonOrderId
    seller_id: inputs.SellerId
    version: int = Field(ge=1, le=inputs.INT64_MAX)
    seller_order_id: inputs.SellerOrderId | None = None
    marketplace_id: inputs.MarketplaceId | None = None
    sales_channel: Label | None = None
    order_channel: Label | None = None
    purchase_date: inputs.Moment
    last_update_date: inputs.Moment
    order_status: OrderStatus
    fulfillment_channel: FulfillmentChannel | None = None
    ship_service_level: Label | None = None
    shipment_service_level_category: Label | None = None
    order_type: Label | None = None
    order_total: Money | None = None
    number_of_items_shipped: inputs.Count32 = 0
    number_of_items_unshipped: inputs.Count32 = 0
    earliest_ship_date: inputs.Moment | None = None
    latest_ship_date: inputs.Moment | None = None
    earliest_delivery_date: inputs.Moment | None = None
    latest_delivery_date: inputs.Moment | None = None
    is_prime: bool = False
    is_business_order: bool = False
    is_premium_order: bool = False
    is_replacement_order: bool = False
    replaced_order_id: inputs.AmazonOrderId | None = None
    is_buyer_requested_cancel: bool = False
    buyer_cancel_reason: inputs.Reason | None = None
    ship_to: ShipTo | None = None
    buyer_pii: EncryptedPII | None = None
    items: tuple[OrderItem, ...] = Field(default=(), max_length=1000)
    intake_source: Label = "api"

    @property
    def is_fba(self) -> bool:
        return self.fulfillment_channel == FulfillmentChannel.AFN


class AmazonConfirmation(BaseModel):
    """``shipment.amazon_confirmed`` / ``shipment.amazon_confirmation_failed``: ingest pushed a
    fulfillment shipment (at ``fulfillment_version``) to Amazon with SP-API confirmShipment,
    and Amazon accepted it (204) or refused it for good (``error``: Amazon's message).

    Not an order snapshot: it carries no order ``version``; consumers that keep snapshots
    ignore it (an additive type on orders.v1)."""

    model_config = ConfigDict(frozen=True)

    amazon_order_id: inputs.AmazonOrderId
    seller_id: inputs.SellerId
    shipment_id: Id
    fulfillment_version: inputs.Version
    status: Literal["sent", "failed"]
    error: Annotated[str, inputs.Prose(2000)] | None = None
    at: inputs.Moment


class AmazonFeedResult(BaseModel):
    """``cancellation.amazon_accepted`` / ``cancellation.amazon_failed`` and
    ``refund.amazon_accepted`` / ``refund.amazon_failed``: ingest sent a fulfillment
    cancellation or refund to Amazon as a feed message (an OrderAcknowledgement with a
    CancelReason, an OrderAdjustment), and Amazon's processing report accepted it or refused
    it (``result_code`` / ``error``: Amazon's ResultMessageCode and ResultDescription; a failed
    one can be retried). ``refund_id`` names the refund; a cancellation is the order's.

    Not an order snapshot, like ``AmazonConfirmation``."""

    model_config = ConfigDict(frozen=True)

    amazon_order_id: inputs.AmazonOrderId
    seller_id: inputs.SellerId
    submission_id: Id
    kind: Literal["cancellation", "adjustment"]
    refund_id: Id | None = None
    fulfillment_version: inputs.Version
    status: Literal["accepted", "failed"]
    result_code: Label | None = None
    error: Annotated[str, inputs.Prose(2000)] | None = None
    feed_id: Id | None = None
    at: inputs.Moment


SNAPSHOT_TYPES = (ORDER_CREATED, ORDER_UPDATED)

PAYLOADS: dict[str, type[BaseModel]] = {
    ORDER_CREATED: OrderSnapshot,
    ORDER_UPDATED: OrderSnapshot,
    SHIPMENT_AMAZON_CONFIRMED: AmazonConfirmation,
    SHIPMENT_AMAZON_CONFIRMATION_FAILED: AmazonConfirmation,
    CANCELLATION_AMAZON_ACCEPTED: AmazonFeedResult,
    CANCELLATION_AMAZON_FAILED: AmazonFeedResult,
    REFUND_AMAZON_ACCEPTED: AmazonFeedResult,
    REFUND_AMAZON_FAILED: AmazonFeedResult,
    **performance.PAYLOADS,
}
