"""Amazon's SP-API Orders v2026-01-01 ``Order`` shape, with Amazon's names (camelCase).

Field names follow ``models/orders-api-model/orders_2026-01-01.json`` of
amzn/selling-partner-api-models: ``orderId``, ``createdTime``, ``lastUpdatedTime``,
``salesChannel``, ``fulfillment`` (``fulfillmentStatus``, ``fulfilledBy``, ``shipByWindow``,
``deliverByWindow``), ``orderItems[]`` (``product{asin, sellerSku, title, price{unitPrice}}``,
``quantityOrdered``, ``proceeds``, ``cancellation``, ``fulfillment``), ``buyer`` and
``recipient`` (PII, sealed like v0's). ``to_incoming`` maps an order to the same
``IncomingOrder`` the v0 shape gives, with v0's status and channel names, so both shapes go
through one intake.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from ingest.intake.adapters.amazon_v0 import Amount, Code, order_id_label, reasons_of
from ingest.intake.domain.model import IncomingOrder, Rejected
from shared import inputs
from shared.events.orders import FulfillmentChannel as Channel
from shared.events.orders import OrderStatus as Status

STATUS = {
    "PENDING_AVAILABILITY": Status.PENDING_AVAILABILITY,
    "PENDING": Status.PENDING,
    "UNSHIPPED": Status.UNSHIPPED,
    "PARTIALLY_SHIPPED": Status.PARTIALLY_SHIPPED,
    "SHIPPED": Status.SHIPPED,
    "CANCELLED": Status.CANCELED,
    "UNFULFILLABLE": Status.UNFULFILLABLE,
}
FULFILLED_BY = {"MERCHANT": Channel.MFN, "AMAZON": Channel.AFN}
_CONDITION = TypeAdapter(Code)  # an item's condition_id, once title-cased
SERVICE_LEVEL = {
    "EXPEDITED": "Expedited",
    "FREE_ECONOMY": "FreeEconomy",
    "NEXT_DAY": "NextDay",
    "PRIORITY": "Priority",
    "SAME_DAY": "SameDay",
    "SECOND_DAY": "SecondDay",
    "SCHEDULED": "Scheduled",
    "STANDARD": "Standard",
}


class _Amazon(BaseModel):
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True, frozen=True)


class Money(_Amazon):
    amount: Amount
    currencyCode: inputs.CurrencyCode


class DateTimeRange(_Amazon):
    earliestDateTime: inputs.Moment | None = None
    latestDateTime: inputs.Moment | None = None


class SalesChannel(_Amazon):
    channelName: Code = "AMAZON"
    marketplaceId: inputs.MarketplaceId | None = None
    marketplaceName: Code | None = None


class Alias(_Amazon):
    aliasId: inputs.SellerOrderId
    aliasType: Code


class AssociatedOrder(_Amazon):
    orderId: inputs.AmazonOrderId | None = None
    associationType: Code | None = None


class Buyer(_Amazon):
    buyerName: inputs.PersonName | None = None
    buyerEmail: inputs.Email | None = None
    buyerCompanyName: inputs.CompanyName | None = None
    buyerPurchaseOrderNumber: inputs.SellerOrderId | None = None


class CustomerAddress(_Amazon):
    name: inputs.PersonName | None = None
    companyName: inputs.CompanyName | None = None
    addressLine1: inputs.AddressLine | None = None
    addressLine2: inputs.AddressLine | None = None
    addressLine3: inputs.AddressLine | None = None
    city: inputs.City | None = None
    districtOrCounty: inputs.Region | None = None
    stateOrRegion: inputs.Region | None = None
    municipality: inputs.Region | None = None
    postalCode: inputs.PostalCode | None = None
    countryCode: inputs.CountryCode | None = None
    phone: inputs.Phone | None = None
    addressType: Code | None = None


class Recipient(_Amazon):
    deliveryAddress: CustomerAddress | None = None


class ProceedsBreakdown(_Amazon):
    type: Code
    subtotal: Money


class OrderProceeds(_Amazon):
    grandTotal: Money | None = None
    breakdowns: list[ProceedsBreakdown] = Field(default_factory=list, max_length=50)


class OrderFulfillment(_Amazon):
    fulfillmentStatus: str = Field(pattern="^(" + "|".join(STATUS) + ")$")
    fulfilledBy: str | None = Field(default=None, pattern="^(MERCHANT|AMAZON)$")
    fulfillmentServiceLevel: Code | None = None
    shipByWindow: DateTimeRange | None = None
    deliverByWindow: DateTimeRange | None = None


class ItemPrice(_Amazon):
    unitPrice: Money | None = None


class ItemCondition(_Amazon):
    # NEW, USED, ...: shorter than condition_id's limit even once title-cased ("ß" -> "Ss")
    conditionType: Annotated[str, inputs.Line(50)] | None = None


class ItemProduct(_Amazon):
    asin: inputs.Asin
    title: inputs.ProductTitle | None = None
    sellerSku: inputs.SellerSku | None = None
    condition: ItemCondition | None = None
    price: ItemPrice | None = None


class ItemProceeds(_Amazon):
    proceedsTotal: Money | None = None
    breakdowns: list[ProceedsBreakdown] = Field(default_factory=list, max_length=50)


class CancellationRequest(_Amazon):
    requester: Code | None = None
    cancelReason: inputs.Reason | None = None


class ItemCancellation(_Amazon):
    cancellationRequest: CancellationRequest | None = None


class GiftOption(_Amazon):
    giftWrapLevel: Code | None = None


class ItemPacking(_Amazon):
    giftOption: GiftOption | None = None


class ItemFulfillment(_Amazon):
    quantityFulfilled: inputs.Quantity = 0
    quantityUnfulfilled: inputs.Quantity = 0
    packing: ItemPacking | None = None


class OrderItem(_Amazon):
    orderItemId: inputs.OrderItemId
    quantityOrdered: inputs.Quantity
    product: ItemProduct
    proceeds: ItemProceeds | None = None
    cancellation: ItemCancellation | None = None
    fulfillment: ItemFulfillment | None = None


class Order(_Amazon):
    """An ``Order`` as searchOrders / getOrder (v2026-01-01) return it."""

    orderId: inputs.AmazonOrderId
    orderAliases: list[Alias] = Field(default_factory=list, max_length=50)
    createdTime: inputs.Moment
    lastUpdatedTime: inputs.Moment
    programs: list[Code] = Field(default_factory=list, max_length=50)
    associatedOrders: list[AssociatedOrder] = Field(default_factory=list, max_length=50)
    salesChannel: SalesChannel
    buyer: Buyer | None = None
    recipient: Recipient | None = None
    proceeds: OrderProceeds | None = None
    fulfillment: OrderFulfillment
    orderItems: list[OrderItem] = Field(default_factory=list, max_length=1000)


def _money(m: Money | None) -> dict[str, str] | None:
    return None if m is None else {"amount": str(m.amount), "currency_code": m.currencyCode}


def _breakdown(proceeds: ItemProceeds | None, kind: str) -> Money | None:
    found = [b.subtotal for b in (proceeds.breakdowns if proceeds else []) if b.type == kind]
    return found[0] if found else None


def _item_price(item: OrderItem) -> dict[str, str] | None:
    """v0's ItemPrice is unit price times quantity: the ITEM proceeds, else computed."""
    proceeds = _breakdown(item.proceeds, "ITEM")
    if proceeds is not None:
        return _money(proceeds)
    unit = item.product.price.unitPrice if item.product.price else None
    if unit is None:
        return None
    total = unit.amount * Decimal(item.quantityOrdered)
    return {"amount": str(total), "currency_code": unit.currencyCode}


def _item(item: OrderItem) -> dict[str, Any]:
    request = item.cancellation.cancellationRequest if item.cancellation else None
    fulfilled = item.fulfillment or ItemFulfillment()
    condition = item.product.condition.conditionType if item.product.condition else None
    return {
        "order_item_id": item.orderItemId,
        "asin": item.product.asin,
        "seller_sku": item.product.sellerSku,
        "title": item.product.title,
        "quantity_ordered": item.quantityOrdered,
        "quantity_shipped": fulfilled.quantityFulfilled,
        "item_price": _item_price(item),
        "item_tax": _money(_breakdown(item.proceeds, "TAX")),
        "shipping_price": _money(_breakdown(item.proceeds, "SHIPPING")),
        "shipping_tax": None,
        "promotion_discount": _money(_breakdown(item.proceeds, "DISCOUNT")),
        "is_gift": bool(fulfilled.packing and fulfilled.packing.giftOption),
        "condition_id": condition.title() if condition else None,
        "is_buyer_requested_cancel": bool(request and request.requester == "BUYER"),
        "buyer_cancel_reason": request.cancelReason if request else None,
    }


_ADDRESS_V0 = {
    "name": "Name",
    "addressLine1": "AddressLine1",
    "addressLine2": "AddressLine2",
    "addressLine3": "AddressLine3",
    "city": "City",
    "districtOrCounty": "County",
    "stateOrRegion": "StateOrRegion",
    "municipality": "Municipality",
    "postalCode": "PostalCode",
    "countryCode": "CountryCode",
    "phone": "Phone",
    "addressType": "AddressType",
}


def _pii(order: Order) -> dict[str, Any] | None:
    """The same sealed PII document as v0's (v0's address names, so readers need one shape)."""
    buyer = order.buyer
    address = order.recipient.deliveryAddress if order.recipient else None
    if buyer is None and address is None:
        return None
    shipping = None
    if address is not None:
        values = address.model_dump(exclude_none=True)
        shipping = {_ADDRESS_V0[k]: v for k, v in values.items() if k in _ADDRESS_V0}
        if address.companyName:
            shipping["CompanyName"] = address.companyName
    return {
        "buyer_name": buyer.buyerName if buyer else None,
        "buyer_email": buyer.buyerEmail if buyer else None,
        "purchase_order_number": buyer.buyerPurchaseOrderNumber if buyer else None,
        "shipping_address": shipping,
    }


def _ship_to(order: Order) -> dict[str, Any] | None:
    address = order.recipient.deliveryAddress if order.recipient else None
    if address is None:
        return None
    return {
        "city": address.city,
        "state_or_region": address.stateOrRegion,
        "postal_code": address.postalCode,
        "country_code": address.countryCode,
    }


def _window(w: DateTimeRange | None) -> tuple[Any, Any]:
    return (w.earliestDateTime, w.latestDateTime) if w else (None, None)


def to_incoming(order: Order) -> IncomingOrder:
    items = [_item(i) for i in order.orderItems]
    cancel = next((i for i in items if i["is_buyer_requested_cancel"]), None)
    replaced = next(
        (
            a.orderId
            for a in order.associatedOrders
            if a.associationType == "REPLACEMENT_ORIGINAL_ID"
        ),
        None,
    )
    seller_order_id = next(
        (a.aliasId for a in order.orderAliases if a.aliasType == "SELLER_ORDER_ID"), None
    )
    f = order.fulfillment
    status = STATUS[f.fulfillmentStatus]
    ship, deliver = _window(f.shipByWindow), _window(f.deliverByWindow)
    fulfilled = [i.fulfillment or ItemFulfillment() for i in order.orderItems]
    level = f.fulfillmentServiceLevel
    fields: dict[str, Any] = {
        "amazon_order_id": order.orderId,
        "seller_order_id": seller_order_id,
        "marketplace_id": order.salesChannel.marketplaceId,
        "sales_channel": order.salesChannel.marketplaceName,
        "order_channel": None,
        "purchase_date": order.createdTime,
        "last_update_date": order.lastUpdatedTime,
        "order_status": status,
        "fulfillment_channel": FULFILLED_BY.get(f.fulfilledBy or ""),
        "ship_service_level": None,
        "shipment_service_level_category": SERVICE_LEVEL.get(level or "", level),
        "order_type": "Preorder" if "PREORDER" in order.programs else "StandardOrder",
        "order_total": _money(order.proceeds.grandTotal if order.proceeds else None),
        "number_of_items_shipped": sum(x.quantityFulfilled for x in fulfilled),
        "number_of_items_unshipped": sum(x.quantityUnfulfilled for x in fulfilled),
        "earliest_ship_date": ship[0],
        "latest_ship_date": ship[1],
        "earliest_delivery_date": deliver[0],
        "latest_delivery_date": deliver[1],
        "is_prime": "PRIME" in order.programs,
        "is_business_order": "AMAZON_BUSINESS" in order.programs,
        "is_premium_order": "PREMIUM" in order.programs,
        "is_replacement_order": replaced is not None,
        "replaced_order_id": replaced,
        "is_buyer_requested_cancel": cancel is not None,
        "buyer_cancel_reason": cancel["buyer_cancel_reason"] if cancel else None,
        "ship_to": _ship_to(order),
        "items": items,
    }
    return IncomingOrder(
        amazon_order_id=order.orderId,
        last_update_date=order.lastUpdatedTime,
        order_status=status.value,
        marketplace_id=order.salesChannel.marketplaceId,
        fields=fields,
        pii=_pii(order),
    )


def parse(data: Any) -> IncomingOrder | Rejected:
    """Validate one v2026 order (bare, or getOrder's ``{"order": ...}``)."""
    if isinstance(data, dict) and isinstance(data.get("order"), dict):
        data = data["order"]
    try:
        order = Order.model_validate(data)
    except ValidationError as exc:
        value = data.get("orderId") if isinstance(data, dict) else None
        return Rejected(reasons=reasons_of(exc), amazon_order_id=order_id_label(value), raw=data)
    return _within_policy(to_incoming(order), order.orderId, data)


def _within_policy(incoming: IncomingOrder, order_id: str, raw: Any) -> IncomingOrder | Rejected:
    """The values derived here are checked as the snapshot's types would: v0's ItemPrice (unit
    price times quantity) must fit the money columns as any amount sent does, and the
    title-cased condition (longer than Amazon's: "ﬃ" becomes "Ffi", "İ" "i̇") must be a
    ``Code``. Intake does not validate the snapshot again
    (docs/adr/0058-ingest-validates-and-serialises-once.md)."""
    reasons = [
        {
            "field": f"orderItems.{i}.product.price.unitPrice.amount",
            "message": "times quantityOrdered must be less than "
            f"{inputs.MONEY_LIMIT} (the money columns' precision)",
            "type": "less_than",
        }
        for i, item in enumerate(incoming.fields["items"])
        if item["item_price"] and Decimal(item["item_price"]["amount"]) >= inputs.MONEY_LIMIT
    ]
    for i, item in enumerate(incoming.fields["items"]):
        if item["condition_id"] is not None:
            try:
                _CONDITION.validate_python(item["condition_id"])
            except ValidationError as exc:
                prefix = ("orderItems", str(i), "product", "condition", "conditionType")
                errors = exc.errors(include_url=False, include_input=False)
                found = inputs.field_errors(errors, prefix=prefix)
                reasons += [r | {"message": f"title-cased, {r['message']}"} for r in found]
    if reasons:
        return Rejected(reasons=reasons, amazon_order_id=order_id, raw=raw)
    return incoming
