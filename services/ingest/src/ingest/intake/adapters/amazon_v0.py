"""Amazon's SP-API Orders v0 shapes (``Order`` plus ``OrderItems``), with Amazon's names.

Unknown fields are ignored (Amazon adds fields over time); the ones we use are validated by
the input policy (``shared.inputs``, ``docs/input-policy.md``): AmazonOrderId in the 3-7-7
format, ASINs and marketplace ids by theirs, money as decimal strings within the money
columns' precision, quantities and counters within their columns, statuses from Amazon's
list, free text printable and no longer than Amazon's limits. ``to_incoming`` turns a
validated order into our own names.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ingest.intake.domain.model import IncomingOrder, Rejected
from shared import inputs
from shared.events.orders import FulfillmentChannel as Channel
from shared.events.orders import OrderStatus as Status

AMAZON_ORDER_ID = inputs.AMAZON_ORDER_ID
Amount = inputs.Amount
Code = inputs.Code


class _Amazon(BaseModel):
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True, frozen=True)


class AmazonMoney(_Amazon):
    CurrencyCode: inputs.CurrencyCode
    Amount: Amount


class AmazonBuyerInfo(_Amazon):
    BuyerEmail: inputs.Email | None = None
    BuyerName: inputs.PersonName | None = None
    BuyerCounty: inputs.Region | None = None
    PurchaseOrderNumber: inputs.SellerOrderId | None = None


class AmazonAddress(_Amazon):
    Name: inputs.PersonName | None = None
    AddressLine1: inputs.AddressLine | None = None
    AddressLine2: inputs.AddressLine | None = None
    AddressLine3: inputs.AddressLine | None = None
    City: inputs.City | None = None
    County: inputs.Region | None = None
    District: inputs.Region | None = None
    StateOrRegion: inputs.Region | None = None
    Municipality: inputs.Region | None = None
    PostalCode: inputs.PostalCode | None = None
    CountryCode: inputs.CountryCode | None = None
    Phone: inputs.Phone | None = None
    AddressType: Code | None = None


class AmazonBuyerRequestedCancel(_Amazon):
    IsBuyerRequestedCancel: bool = False
    BuyerCancelReason: inputs.Reason | None = None


class AmazonOrderItem(_Amazon):
    ASIN: inputs.Asin
    OrderItemId: inputs.OrderItemId
    QuantityOrdered: inputs.Quantity
    SellerSKU: inputs.SellerSku | None = None
    Title: inputs.ProductTitle | None = None
    QuantityShipped: inputs.Quantity = 0
    ItemPrice: AmazonMoney | None = None
    ShippingPrice: AmazonMoney | None = None
    ItemTax: AmazonMoney | None = None
    ShippingTax: AmazonMoney | None = None
    PromotionDiscount: AmazonMoney | None = None
    ConditionId: Code | None = None
    IsGift: bool = False
    BuyerRequestedCancel: AmazonBuyerRequestedCancel | None = None


class AmazonOrder(_Amazon):
    """An ``Order`` as getOrders/getOrder return it, with getOrderItems' items when known."""

    AmazonOrderId: inputs.AmazonOrderId
    PurchaseDate: inputs.Moment
    LastUpdateDate: inputs.Moment
    OrderStatus: Status
    SellerOrderId: inputs.SellerOrderId | None = None
    FulfillmentChannel: Channel | None = None
    SalesChannel: Code | None = None
    OrderChannel: Code | None = None
    ShipServiceLevel: Code | None = None
    ShipmentServiceLevelCategory: Code | None = None
    OrderType: Code | None = None
    OrderTotal: AmazonMoney | None = None
    NumberOfItemsShipped: inputs.Count32 = 0
    NumberOfItemsUnshipped: inputs.Count32 = 0
    MarketplaceId: inputs.MarketplaceId | None = None
    EarliestShipDate: inputs.Moment | None = None
    LatestShipDate: inputs.Moment | None = None
    EarliestDeliveryDate: inputs.Moment | None = None
    LatestDeliveryDate: inputs.Moment | None = None
    IsBusinessOrder: bool = False
    IsPrime: bool = False
    IsPremiumOrder: bool = False
    IsReplacementOrder: bool = False
    ReplacedOrderId: inputs.AmazonOrderId | None = None
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
    return list(inputs.field_errors(exc.errors(include_url=False, include_input=False)))


def order_id_label(value: Any) -> str | None:
    """What a refused order's id is kept as (quarantine): refused characters made visible."""
    return inputs.scrub(value, 64) if isinstance(value, str) else None


def _order_id_of(data: Any) -> str | None:
    return order_id_label(data.get("AmazonOrderId") if isinstance(data, dict) else None)
