"""Amazon-shaped orders for the stand-in: v2026-01-01 documents, and their v0 rendering."""

from __future__ import annotations

import itertools
import random
from datetime import datetime
from typing import Any

_V0_STATUS = {
    "PENDING_AVAILABILITY": "PendingAvailability",
    "PENDING": "Pending",
    "UNSHIPPED": "Unshipped",
    "PARTIALLY_SHIPPED": "PartiallyShipped",
    "SHIPPED": "Shipped",
    "CANCELLED": "Canceled",
    "UNFULFILLABLE": "Unfulfillable",
}

_counter = itertools.count(1)


def iso(at: datetime) -> str:
    return at.isoformat().replace("+00:00", "Z")


def new_order_id() -> str:
    return f"{random.randint(100, 999)}-{random.randint(0, 9_999_999):07d}-{next(_counter):07d}"


def v2026_order(
    *,
    order_id: str | None = None,
    created: datetime,
    updated: datetime,
    status: str = "UNSHIPPED",
    marketplace_id: str = "ATVPDKIKX0DER",
    items: int = 1,
) -> dict[str, Any]:
    """A v2026-01-01 ``Order`` as searchOrders/getOrder return it with all includedData."""
    order_id = order_id or new_order_id()
    order_items = [
        {
            "orderItemId": f"{order_id.replace('-', '')[:10]}{n:04d}",
            "quantityOrdered": 2,
            "product": {
                "asin": f"B0{n:08d}",
                "title": f"Widget {n}",
                "sellerSku": f"SKU-{n}",
                "condition": {"conditionType": "NEW"},
                "price": {"unitPrice": {"amount": "19.99", "currencyCode": "USD"}},
            },
            "proceeds": {
                "proceedsTotal": {"amount": "41.98", "currencyCode": "USD"},
                "breakdowns": [
                    {"type": "ITEM", "subtotal": {"amount": "39.98", "currencyCode": "USD"}},
                    {"type": "TAX", "subtotal": {"amount": "2.00", "currencyCode": "USD"}},
                ],
            },
            "fulfillment": {
                "quantityFulfilled": 2 if status == "SHIPPED" else 0,
                "quantityUnfulfilled": 0 if status == "SHIPPED" else 2,
            },
        }
        for n in range(1, items + 1)
    ]
    return {
        "orderId": order_id,
        "createdTime": iso(created),
        "lastUpdatedTime": iso(updated),
        "programs": ["PRIME"],
        "salesChannel": {
            "channelName": "AMAZON",
            "marketplaceId": marketplace_id,
            "marketplaceName": "Amazon.com",
        },
        "buyer": {"buyerName": "Jane Buyer", "buyerEmail": "jb@marketplace.amazon.com"},
        "recipient": {
            "deliveryAddress": {
                "name": "Jane Buyer",
                "addressLine1": "1200 Elm Street",
                "city": "Seattle",
                "stateOrRegion": "WA",
                "postalCode": "98101",
                "countryCode": "US",
                "addressType": "RESIDENTIAL",
            }
        },
        "proceeds": {"grandTotal": {"amount": f"{41.98 * items:.2f}", "currencyCode": "USD"}},
        "fulfillment": {
            "fulfillmentStatus": status,
            "fulfilledBy": "MERCHANT",
            "fulfillmentServiceLevel": "STANDARD",
            "shipByWindow": {
                "earliestDateTime": iso(created),
                "latestDateTime": iso(created.replace(year=created.year + 1)),
            },
        },
        "orderItems": order_items,
    }


def without(order: dict[str, Any], included: set[str]) -> dict[str, Any]:
    """The order as Amazon returns it for this ``includedData``: PII only when asked for."""
    out = dict(order)
    if "BUYER" not in included:
        out.pop("buyer", None)
    if "RECIPIENT" not in included:
        out.pop("recipient", None)
    return out


def to_v0(order: dict[str, Any]) -> dict[str, Any]:
    """The same order in v0's shape (getOrders / getOrder), items left to getOrderItems."""
    address = order.get("recipient", {}).get("deliveryAddress", {})
    ship = order["fulfillment"].get("shipByWindow", {})
    total = order["proceeds"]["grandTotal"]
    return {
        "AmazonOrderId": order["orderId"],
        "PurchaseDate": order["createdTime"],
        "LastUpdateDate": order["lastUpdatedTime"],
        "OrderStatus": _V0_STATUS[order["fulfillment"]["fulfillmentStatus"]],
        "FulfillmentChannel": "MFN" if order["fulfillment"]["fulfilledBy"] == "MERCHANT" else "AFN",
        "SalesChannel": order["salesChannel"]["marketplaceName"],
        "MarketplaceId": order["salesChannel"]["marketplaceId"],
        "OrderTotal": {"CurrencyCode": total["currencyCode"], "Amount": total["amount"]},
        "EarliestShipDate": ship.get("earliestDateTime"),
        "LatestShipDate": ship.get("latestDateTime"),
        "IsPrime": "PRIME" in order.get("programs", []),
        "BuyerInfo": {"BuyerEmail": order.get("buyer", {}).get("buyerEmail")},
        "ShippingAddress": {
            "Name": address.get("name"),
            "AddressLine1": address.get("addressLine1"),
            "City": address.get("city"),
            "StateOrRegion": address.get("stateOrRegion"),
            "PostalCode": address.get("postalCode"),
            "CountryCode": address.get("countryCode"),
        },
    }


def items_v0(order: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        {
            "ASIN": i["product"]["asin"],
            "OrderItemId": i["orderItemId"],
            "SellerSKU": i["product"]["sellerSku"],
            "Title": i["product"]["title"],
            "QuantityOrdered": i["quantityOrdered"],
            "QuantityShipped": i["fulfillment"]["quantityFulfilled"],
            "ItemPrice": {
                "CurrencyCode": "USD",
                "Amount": i["proceeds"]["breakdowns"][0]["subtotal"]["amount"],
            },
        }
        for i in order["orderItems"]
    ]
