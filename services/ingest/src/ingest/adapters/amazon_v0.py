"""Amazon's SP-API Orders v0 shapes (``Order`` plus ``OrderItems``), with Amazon's names.

Unknown fields are ignored (Amazon adds fields over time); the ones we use are validated:
AmazonOrderId in the 3-7-7 format, money as decimal strings, quantities not negative, statuses
from Amazon's list. ``to_incoming`` turns a validated order into our own names.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
)

from ingest.domain.model import IncomingOrder, Rejected
from shared.events.orders import FulfillmentChannel as Channel
from shared.events.orders import OrderStatus as Status

AMAZON_ORDER_ID = r"^\d{3}-\d{7}-\d{7}$"


def _decimal_string(value: Any) -> Any:
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise ValueError('Amount must be a decimal string such as "19.99"')
    text = str(value).strip()
    try:
        number = Decimal(text)
    except ArithmeticError:
        raise ValueError(f"Amount {text[:20]!r} is not a decimal number") from None
    if not number.is_finite():
        raise ValueError("Amount must be a finite decimal number")
    return number


def _not_negative(value: Decimal) -> Decimal:
    if value < 0:
        raise ValueError("Amount must not be negative")
    return value


Amount = Annotated[Decimal, BeforeValidator(_decimal_string), AfterValidator(_not_negative)]


class _Amazon(BaseModel):
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True, frozen=True)


class AmazonMoney(_Amazon):
    CurrencyCode: str = Field(pattern=r"^[A-Z]{3}$")
    Amount: Amount


class AmazonBuyerInfo(_Amazon):
    BuyerEmail: str | None = Field(default=None, max_length=320)
    BuyerName: str | None = Field(default=None, max_length=300)
    BuyerCounty: str | None = None
    PurchaseOrderNumber: str | None = None


class AmazonAddress(_Amazon):
    Name: str | None = Field(default=None, max_length=300)
    AddressLine1: str | None = None
    AddressLine2: str | None = None
    AddressLine3: str | None = None
    City: str | None = None
    County: str | None = None
    District: str | None = None
    StateOrRegion: str | None = None
    Municipality: str | None = None
    PostalCode: str | None = None
    CountryCode: str | None = Field(default=None, pattern=r"^[A-Z]{2}$")
    Phone: str | None = None
    AddressType: str | None = None


class AmazonBuyerRequestedCancel(_Amazon):
    IsBuyerRequestedCancel: bool = False
    BuyerCancelReason: str | None = None


class AmazonOrderItem(_Amazon):
    ASIN: str = Field(min_length=1, max_length=20)
    OrderItemId: str = Field(min_length=1, max_length=64)
    QuantityOrdered: int = Field(ge=0, le=100_000)
    SellerSKU: str | None = Field(default=None, max_length=200)
    Title: str | None = Field(default=None, max_length=1000)
    QuantityShipped: int = Field(default=0, ge=0, le=100_000)
    ItemPrice: AmazonMoney | None = None
    ShippingPrice: AmazonMoney | None = None
    ItemTax: AmazonMoney | None = None
    ShippingTax: AmazonMoney | None = None
    PromotionDiscount: AmazonMoney | None = None
    ConditionId: str | None = None
    IsGift: bool = False
    BuyerRequestedCancel: AmazonBuyerRequestedCancel | None = None


class AmazonOrder(_Amazon):
    """An ``Order`` as getOrders/getOrder return it, with getOrderItems' items when known."""

    AmazonOrderId: str = Field(pattern=AMAZON_ORDER_ID, description="3-7-7 digits")
    PurchaseDate: AwareDatetime
    LastUpdateDate: AwareDatetime
    OrderStatus: Status
    SellerOrderId: str | None = Field(default=None, max_length=64)
    FulfillmentChannel: Channel | None = None
    SalesChannel: str | None = None
    OrderChannel: str | None = None
    ShipServiceLevel: str | None = None
    ShipmentServiceLevelCategory: str | None = None
    OrderType: str | None = None
    OrderTotal: AmazonMoney | None = None
    NumberOfItemsShipped: int = Field(default=0, ge=0)
    NumberOfItemsUnshipped: int = Field(default=0, ge=0)
    MarketplaceId: str | None = Field(default=None, max_length=32)
    EarliestShipDate: AwareDatetime | None = None
    LatestShipDate: AwareDatetime | None = None
    EarliestDeliveryDate: AwareDatetime | None = None
    LatestDeliveryDate: AwareDatetime | None = None
    IsBusinessOrder: bool = False
    IsPrime: bool = False
    IsPremiumOrder: bool = False
    IsReplacementOrder: bool = False
    ReplacedOrderId: str | None = None
    BuyerInfo: AmazonBuyerInfo | None = None
    ShippingAddress: AmazonAddress | None = None
    OrderItems: list[AmazonOrderItem] = Field(default_factory=list, max_length=1000)


def _money(m: AmazonMoney | None) -> dict[str, str] | None:
    return None if m is None else {"amount": str(m.Amount), "currency_code": m.CurrencyCode}


def _item(item: AmazonOrderItem) -> dict[str, Any]:
    cancel = item.BuyerRequestedCancel
    return {
        "order_item_id": item.OrderItemId,
        "asin": item.ASIN,
        "seller_sku": item.SellerSKU,
        "title": item.Title,
        "quantity_ordered": item.QuantityOrdered,
        "quantity_shipped": item.QuantityShipped,
        "item_price": _money(item.ItemPrice),
        "item_tax": _money(item.ItemTax),
        "shipping_price": _money(item.ShippingPrice),
        "shipping_tax": _money(item.ShippingTax),
        "promotion_discount": _money(item.PromotionDiscount),
        "is_gift": item.IsGift,
        "condition_id": item.ConditionId,
        "is_buyer_requested_cancel": bool(cancel and cancel.IsBuyerRequestedCancel),
        "buyer_cancel_reason": cancel.BuyerCancelReason if cancel else None,
    }


def _pii(order: AmazonOrder) -> dict[str, Any] | None:
    buyer, address = order.BuyerInfo, order.ShippingAddress
    if buyer is None and address is None:
        return None
    return {
        "buyer_name": buyer.BuyerName if buyer else None,
        "buyer_email": buyer.BuyerEmail if buyer else None,
        "purchase_order_number": buyer.PurchaseOrderNumber if buyer else None,
        "shipping_address": address.model_dump(exclude_none=True) if address else None,
    }


def _ship_to(address: AmazonAddress | None) -> dict[str, Any] | None:
    if address is None:
        return None
    return {
        "city": address.City,
        "state_or_region": address.StateOrRegion,
        "postal_code": address.PostalCode,
        "country_code": address.CountryCode,
    }


def to_incoming(order: AmazonOrder) -> IncomingOrder:
    items = [_item(i) for i in order.OrderItems]
    buyer_cancel = next((i for i in items if i["is_buyer_requested_cancel"]), None)
    fields: dict[str, Any] = {
        "amazon_order_id": order.AmazonOrderId,
        "seller_order_id": order.SellerOrderId,
        "marketplace_id": order.MarketplaceId,
        "sales_channel": order.SalesChannel,
        "order_channel": order.OrderChannel,
        "purchase_date": order.PurchaseDate,
        "last_update_date": order.LastUpdateDate,
        "order_status": order.OrderStatus,
        "fulfillment_channel": order.FulfillmentChannel,
        "ship_service_level": order.ShipServiceLevel,
        "shipment_service_level_category": order.ShipmentServiceLevelCategory,
        "order_type": order.OrderType,
        "order_total": _money(order.OrderTotal),
        "number_of_items_shipped": order.NumberOfItemsShipped,
        "number_of_items_unshipped": order.NumberOfItemsUnshipped,
        "earliest_ship_date": order.EarliestShipDate,
        "latest_ship_date": order.LatestShipDate,
        "earliest_delivery_date": order.EarliestDeliveryDate,
        "latest_delivery_date": order.LatestDeliveryDate,
        "is_prime": order.IsPrime,
        "is_business_order": order.IsBusinessOrder,
        "is_premium_order": order.IsPremiumOrder,
        "is_replacement_order": order.IsReplacementOrder,
        "replaced_order_id": order.ReplacedOrderId,
        "is_buyer_requested_cancel": buyer_cancel is not None,
        "buyer_cancel_reason": buyer_cancel["buyer_cancel_reason"] if buyer_cancel else None,
        "ship_to": _ship_to(order.ShippingAddress),
        "items": items,
    }
    return IncomingOrder(
        amazon_order_id=order.AmazonOrderId,
        last_update_date=order.LastUpdateDate,
        order_status=order.OrderStatus.value,
        marketplace_id=order.MarketplaceId,
        fields=fields,
        pii=_pii(order),
    )


def parse(data: Any) -> IncomingOrder | Rejected:
    """Validate one order document; a ``Rejected`` names every bad field."""
    if isinstance(data, dict) and isinstance(data.get("payload"), dict):
        data = data["payload"]  # getOrder's response wraps the order in "payload"
    try:
        return to_incoming(AmazonOrder.model_validate(data))
    except ValidationError as exc:
        return Rejected(reasons=reasons_of(exc), amazon_order_id=_order_id_of(data), raw=data)


def reasons_of(exc: ValidationError) -> list[dict[str, Any]]:
    return [
        {
            "field": ".".join(str(p) for p in e["loc"]) or "body",
            "message": e["msg"],
            "type": e["type"],
        }
        for e in exc.errors(include_url=False, include_input=False)
    ]


def _order_id_of(data: Any) -> str | None:
    value = data.get("AmazonOrderId") if isinstance(data, dict) else None
    return value[:64] if isinstance(value, str) else None
