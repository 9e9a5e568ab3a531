"""Sample orders in Amazon's SP-API Orders v0 shape, for tests, benchmarks and demos.

``amazon_order`` builds one valid order; keyword arguments override Amazon's fields.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any


def order_id(rng: random.Random | None = None) -> str:
    r = rng or random
    return f"{r.randint(100, 999)}-{r.randint(0, 9_999_999):07d}-{r.randint(0, 9_999_999):07d}"


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def amazon_order(
    *,
    amazon_order_id: str | None = None,
    status: str = "Unshipped",
    channel: str = "MFN",
    purchased: datetime | None = None,
    updated: datetime | None = None,
    quantity: int = 2,
    unit_price: str = "19.99",
    sku: str = "MUG-BLUE-12",
    asin: str = "B08N5WRWNW",
    items: list[dict[str, Any]] | None = None,
    **overrides: Any,
) -> dict[str, Any]:
    purchased = purchased or datetime.now(UTC) - timedelta(hours=2)
    updated = updated or purchased + timedelta(minutes=5)
    oid = amazon_order_id or order_id()
    line_total = f"{float(unit_price) * quantity:.2f}"
    pending = status in ("Pending", "PendingAvailability")
    order: dict[str, Any] = {
        "AmazonOrderId": oid,
        "PurchaseDate": iso(purchased),
        "LastUpdateDate": iso(updated),
        "OrderStatus": status,
        "FulfillmentChannel": channel,
        "SalesChannel": "Amazon.com",
        "MarketplaceId": "ATVPDKIKX0DER",
        "ShipServiceLevel": "Std US D2D Dom",
        "ShipmentServiceLevelCategory": "Standard",
        "OrderType": "StandardOrder",
        "NumberOfItemsShipped": 0,
        "NumberOfItemsUnshipped": quantity,
        "EarliestShipDate": iso(purchased),
        "LatestShipDate": iso(purchased + timedelta(days=2)),
        "EarliestDeliveryDate": iso(purchased + timedelta(days=3)),
        "LatestDeliveryDate": iso(purchased + timedelta(days=7)),
        "IsPrime": False,
        "IsBusinessOrder": False,
    }
    if not pending:
        order["OrderTotal"] = {"CurrencyCode": "USD", "Amount": line_total}
        order["BuyerInfo"] = {
            "BuyerEmail": f"buyer-{oid}@marketplace.amazon.com",
            "BuyerName": "Jane Q. Buyer",
        }
        order["ShippingAddress"] = {
            "Name": "Jane Q. Buyer",
            "AddressLine1": "1200 Elm Street",
            "City": "Seattle",
            "StateOrRegion": "WA",
            "PostalCode": "98101",
            "CountryCode": "US",
            "Phone": "+1 206-555-0100",
        }
        order["OrderItems"] = (
            items
            if items is not None
            else [
                {
                    "ASIN": asin,
                    "SellerSKU": sku,
                    "OrderItemId": f"{oid[-7:]}0001",
                    "Title": "Ceramic mug, blue, 12 oz",
                    "QuantityOrdered": quantity,
                    "QuantityShipped": 0,
                    "ItemPrice": {"CurrencyCode": "USD", "Amount": line_total},
                }
            ]
        )
    order.update(overrides)
    return order
