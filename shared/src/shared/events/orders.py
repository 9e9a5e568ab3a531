"""``orders.v1``: order snapshots published by ingest (event-carried state transfer).

Every event carries the whole order as ingest knows it, and ``version`` (also the envelope's
``aggregateversion``) grows by one with each accepted change, so a consumer applies a snapshot
only when its version is newer than the one it holds.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from shared.events.common import EncryptedPII, Money

ORDER_CREATED = "order.created"
ORDER_UPDATED = "order.updated"
SHIPMENT_AMAZON_CONFIRMED = "shipment.amazon_confirmed"
SHIPMENT_AMAZON_CONFIRMATION_FAILED = "shipment.amazon_confirmation_failed"
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

    order_item_id: str
    asin: str
    seller_sku: str | None = None
    title: str | None = None
    quantity_ordered: int = Field(ge=0)
    quantity_shipped: int = Field(default=0, ge=0)
    item_price: Money | None = None
    item_tax: Money | None = None
    shipping_price: Money | None = None
    shipping_tax: Money | None = None
    promotion_discount: Money | None = None
    is_gift: bool = False
    condition_id: str | None = None
    is_buyer_requested_cancel: bool = False
    buyer_cancel_reason: str | None = None


class ShipTo(BaseModel):
    """The part of the shipping address that is not PII: enough for analytics and routing."""

    model_config = ConfigDict(frozen=True)

    city: str | None = None
    state_or_region: str | None = None
    postal_code: str | None = None
    country_code: str | None = None


class OrderSnapshot(BaseModel):
    model_config = ConfigDict(frozen=True)

    amazon_order_id: str
    seller_id: str
    version: int = Field(ge=1)
    seller_order_id: str | None = None
    marketplace_id: str | None = None
    sales_channel: str | None = None
    order_channel: str | None = None
    purchase_date: datetime
    last_update_date: datetime
    order_status: OrderStatus
    fulfillment_channel: FulfillmentChannel | None = None
    ship_service_level: str | None = None
    shipment_service_level_category: str | None = None
    order_type: str | None = None
    order_total: Money | None = None
    number_of_items_shipped: int = Field(default=0, ge=0)
    number_of_items_unshipped: int = Field(default=0, ge=0)
    earliest_ship_date: datetime | None = None
    latest_ship_date: datetime | None = None
    earliest_delivery_date: datetime | None = None
    latest_delivery_date: datetime | None = None
    is_prime: bool = False
    is_business_order: bool = False
    is_premium_order: bool = False
    is_replacement_order: bool = False
    replaced_order_id: str | None = None
    is_buyer_requested_cancel: bool = False
    buyer_cancel_reason: str | None = None
    ship_to: ShipTo | None = None
    buyer_pii: EncryptedPII | None = None
    items: tuple[OrderItem, ...] = ()
    intake_source: str = "api"

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

    amazon_order_id: str
    seller_id: str
    shipment_id: str
    fulfillment_version: int = Field(ge=0)
    status: Literal["sent", "failed"]
    error: str | None = None
    at: datetime


SNAPSHOT_TYPES = (ORDER_CREATED, ORDER_UPDATED)

PAYLOADS: dict[str, type[BaseModel]] = {
    ORDER_CREATED: OrderSnapshot,
    ORDER_UPDATED: OrderSnapshot,
    SHIPMENT_AMAZON_CONFIRMED: AmazonConfirmation,
    SHIPMENT_AMAZON_CONFIRMATION_FAILED: AmazonConfirmation,
}
