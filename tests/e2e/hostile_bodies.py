"""Request bodies for ``test_hostile_input``: a valid one for every operation that takes one
(each holding every field its schema documents, so each field can be probed in it), the flat
files, and bodies at the edge of what the input policy accepts (the longest text, the largest
amounts and counters, the first and last moments)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from orderflow_testkit.samples import amazon_order, order_id
from shared import inputs

SELLER = "A2SELLER1EXAMPLE"


def now(**delta: float) -> str:
    return (datetime.now(UTC) + timedelta(**delta)).isoformat()


SHIP_HEADER = "order-id\torder-item-id\tquantity\tship-date\tcarrier-code\ttracking-number"
ORDER_HEADER = (
    "amazon-order-id\tpurchase-date\tlast-updated-date\torder-status\tsku\tasin\tquantity\t"
    "currency\titem-price\tproduct-name"
)
PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"


def connection() -> dict[str, Any]:
    return {
        "selling_partner_id": SELLER,
        "region": "NA",
        "marketplace_ids": ["ATVPDKIKX0DER"],
        "orders_api": "v0",
        "endpoint": "http://127.0.0.1:9",
        "lwa_token_url": "http://127.0.0.1:9/auth/o2/token",
        "credentials": {"client_id": "amzn1.id", "client_secret": "s" * 16, "refresh_token": "r"},
        "sync_from": now(days=-1),
    }


# ---- a valid body for every operation that takes one ---------------------------------------------
def v0_order() -> dict[str, Any]:
    """An Orders v0 order with every field ingest reads."""
    order = amazon_order(
        SellerOrderId="SO-1",
        OrderChannel="Web",
        ReplacedOrderId=order_id(),
        IsPremiumOrder=False,
        IsReplacementOrder=False,
    )
    order["BuyerInfo"] |= {"BuyerCounty": "King", "PurchaseOrderNumber": "PO-1"}
    order["ShippingAddress"] |= {
        "AddressLine2": "Apt 1",
        "AddressLine3": "Floor 2",
        "County": "King",
        "District": "Downtown",
        "Municipality": "Seattle",
        "AddressType": "Residential",
    }
    money = {"CurrencyCode": "USD", "Amount": "1.00"}
    order["OrderItems"][0] |= {
        "ShippingPrice": money,
        "ItemTax": money,
        "ShippingTax": money,
        "PromotionDiscount": money,
        "ConditionId": "New",
        "IsGift": False,
        "BuyerRequestedCancel": {"IsBuyerRequestedCancel": False, "BuyerCancelReason": "none"},
    }
    return order


def v2026_order() -> dict[str, Any]:
    """An Orders v2026-01-01 order with every field ingest reads."""
    money = {"amount": "1.00", "currencyCode": "USD"}
    window = {"earliestDateTime": now(), "latestDateTime": now(days=2)}
    address = {
        "name": "Jane",
        "companyName": "ACME",
        "addressLine1": "1 Elm",
        "addressLine2": "Apt 1",
        "addressLine3": "Floor 2",
        "city": "Seattle",
        "districtOrCounty": "King",
        "stateOrRegion": "WA",
        "municipality": "Seattle",
        "postalCode": "98101",
        "countryCode": "US",
        "phone": "+1 206-555-0100",
        "addressType": "RESIDENTIAL",
    }
    return {
        "orderId": order_id(),
        "orderAliases": [{"aliasId": "SO-1", "aliasType": "SELLER_ORDER_ID"}],
        "createdTime": now(hours=-2),
        "lastUpdatedTime": now(hours=-1),
        "programs": ["PRIME"],
        "associatedOrders": [{"orderId": order_id(), "associationType": "REPLACEMENT_ORIGINAL_ID"}],
        "salesChannel": {
            "channelName": "AMAZON",
            "marketplaceId": "ATVPDKIKX0DER",
            "marketplaceName": "Amazon.com",
        },
        "buyer": {
            "buyerName": "Jane",
            "buyerEmail": "j@example.com",
            "buyerCompanyName": "ACME",
            "buyerPurchaseOrderNumber": "PO-1",
        },
        "recipient": {"deliveryAddress": address},
        "proceeds": {"grandTotal": money, "breakdowns": [{"type": "ITEM", "subtotal": money}]},
        "fulfillment": {
            "fulfillmentStatus": "UNSHIPPED",
            "fulfilledBy": "MERCHANT",
            "fulfillmentServiceLevel": "STANDARD",
            "shipByWindow": window,
            "deliverByWindow": window,
        },
        "orderItems": [
            {
                "orderItemId": "12345678901234",
                "quantityOrdered": 1,
                "product": {
                    "asin": "B08N5WRWNW",
                    "title": "Mug",
                    "sellerSku": "MUG",
                    "condition": {"conditionType": "NEW"},
                    "price": {"unitPrice": money},
                },
                "proceeds": {
                    "proceedsTotal": money,
                    "breakdowns": [{"type": "ITEM", "subtotal": money}],
                },
                "cancellation": {
                    "cancellationRequest": {"requester": "BUYER", "cancelReason": "none"}
                },
                "fulfillment": {
                    "quantityFulfilled": 0,
                    "quantityUnfulfilled": 1,
                    "packing": {"giftOption": {"giftWrapLevel": "NONE"}},
                },
            }
        ],
    }


def ad_row() -> dict[str, Any]:
    return {
        "date": datetime.now(UTC).date().isoformat(),
        "marketplace_id": "ATVPDKIKX0DER",
        "campaign_id": "123456789",
        "campaign_name": "Mugs",
        "asin": "B08N5WRWNW",
        "seller_sku": "MUG",
        "impressions": 100,
        "clicks": 10,
        "spend": "1.00",
        "attributed_orders": 1,
        "attributed_units": 1,
        "attributed_sales": "10.00",
        "currency_code": "USD",
    }


def notification() -> dict[str, Any]:
    return {
        "NotificationVersion": "1.0",
        "NotificationType": "ORDER_CHANGE",
        "PayloadVersion": "1.0",
        "EventTime": now(),
        "Payload": {
            "OrderChangeNotification": {
                "NotificationLevel": "OrderLevel",
                "SellerId": SELLER,
                "AmazonOrderId": order_id(),
                "OrderChangeType": "OrderStatusChange",
                "OrderChangeTrigger": {"TimeOfOrderChange": now(), "ChangeReason": "x"},
                "Summary": {"MarketplaceId": "ATVPDKIKX0DER", "OrderStatus": "Unshipped"},
            }
        },
        "NotificationMetadata": {
            "ApplicationId": "amzn1.sellerapps.app.x",
            "SubscriptionId": "sub-1",
            "PublishTime": now(),
            "NotificationId": "d0e9e693-c3ad-4373-979f-ed4ec98dd746",
        },
    }


def bases(ids: dict[str, str]) -> dict[tuple[str, str, str], list[dict[str, Any]]]:
    """(service, method, path) -> valid JSON bodies (two shapes for ingest's orders)."""
    item = {"order_item_id": ids["item"], "quantity": 1}
    return {
        ("ingest", "POST", "/v1/orders"): [v0_order(), v2026_order()],
        ("ingest", "POST", "/v1/orders/batch"): [{"orders": [v0_order()]}],
        ("ingest", "POST", "/v1/ads/performance"): [{"rows": [ad_row()]}],
        ("ingest", "POST", "/v1/connections"): [connection()],
        ("ingest", "POST", "/v1/notifications/sp-api"): [notification()],
        ("fulfillment", "POST", "/v1/orders/{amazon_order_id}/cancellation"): [
            {"reason": "NoInventory"}
        ],
        ("fulfillment", "POST", "/v1/orders/{amazon_order_id}/shipments"): [
            {
                "carrier_code": "UPS",
                "carrier_name": "UPS",
                "ship_method": "Ground",
                "tracking_number": "1Z999AA10123456785",
                "ship_date": now(),
                "items": [item],
                "is_buy_shipping": False,
            }
        ],
        ("fulfillment", "PATCH", "/v1/orders/{amazon_order_id}/shipments/{shipment_id}"): [
            {
                "carrier_code": "UPS",
                "carrier_name": "UPS",
                "ship_method": "Ground",
                "tracking_number": "1Z999AA10123456785",
            }
        ],
        ("fulfillment", "POST", "/v1/orders/{amazon_order_id}/refunds"): [
            {
                "reason": "PriceError",
                "items": [{"order_item_id": ids["item"], "amount": "1.00", "quantity": 1}],
            }
        ],
        ("fulfillment", "POST", "/v1/orders/{amazon_order_id}/returns"): [
            {"rma_id": "RMA-1", "items": [item], "reason": "too small"}
        ],
        ("fulfillment", "POST", "/v1/orders/{amazon_order_id}/returns/{return_id}/receipt"): [
            {"refund": False, "refund_reason": "CustomerReturn"}
        ],
        ("fulfillment", "POST", "/v1/tracking-events"): [
            {
                "carrier_code": "UPS",
                "tracking_number": "1Z999AA10123456784",  # the ids fixture's shipment
                "status": "in_transit",
                "occurred_at": now(minutes=-5),
            }
        ],
        ("fulfillment", "POST", "/v1/orders/{amazon_order_id}/pickup"): [
            {"carrier_code": "UPS", "window_start": now(hours=1), "window_end": now(hours=3)}
        ],
        ("defects", "POST", "/v1/claims"): [
            {
                "amazon_order_id": ids["order"],
                "kind": "chargeback",
                "reason": "not_received",
                "amount": {"amount": "1.00", "currency_code": "USD"},
                "filed_at": now(hours=-1),
            }
        ],
        ("defects", "POST", "/v1/claims/{claim_id}/information-requests"): [
            {"requested_at": now(), "note": "photos?"}
        ],
        ("defects", "POST", "/v1/claims/{claim_id}/responses"): [{"text": "tracking"}],
        ("defects", "POST", "/v1/claims/{claim_id}/review"): [{"note": "review"}],
        ("defects", "POST", "/v1/claims/{claim_id}/decision"): [
            {"decision": "denied", "decided_at": now(), "note": "ok"}
        ],
        ("defects", "POST", "/v1/claims/{claim_id}/appeal"): [{"text": "we delivered"}],
        ("defects", "POST", "/v1/claims/{claim_id}/appeal-decision"): [
            {"outcome": "overturned", "decided_at": now(), "note": "ok"}
        ],
        ("defects", "POST", "/v1/feedback"): [
            {
                "amazon_order_id": ids["order"],
                "rating": 4,
                "comment": "fine",
                "received_at": now(),
            }
        ],
        ("defects", "POST", "/v1/feedback/{feedback_id}/removal-request"): [{"reason": "abuse"}],
        ("defects", "POST", "/v1/feedback/{feedback_id}/removal"): [
            {"outcome": "denied", "decided_at": now()}
        ],
    }


FILE_ROUTES = {("ingest", "POST", "/v1/uploads"), ("fulfillment", "POST", "/v1/shipments/uploads")}


def order_report(*rows: list[str]) -> bytes:
    """An order report: the given rows (cells in ``ORDER_HEADER``'s order), or one valid row."""
    valid = [order_id(), now(), now(), "Unshipped", "SKU", "B000000001", "1", "USD", "1.00", "x"]
    return "\n".join([ORDER_HEADER, *("\t".join(r) for r in rows or [valid])]).encode() + b"\n"


def confirmation_file(ids: dict[str, str], *rows: list[str]) -> bytes:
    """A shipment-confirmation file: the given rows (``SHIP_HEADER``'s order), or a valid one."""
    valid = [ids["order"], ids["item"], "1", "2026-11-20", "UPS", "1Z999AA10123456786"]
    return "\n".join([SHIP_HEADER, *("\t".join(r) for r in rows or [valid])]).encode() + b"\n"


# ---- values at the edge of what is accepted -----------------------------------------------------
TOP = "99999999999999.9999"  # the largest amount: 14 digits, 4 places (NUMERIC(18, 4))
FIRST, LAST = "1970-01-01T00:00:00Z", "2099-12-31T23:59:59Z"


def longest(length: int) -> str:
    """``length`` characters of 2, 4, 3 and 1 bytes: as long as a field takes."""
    return ("é😀漢x" * length)[:length]


def ident(length: int, tag: str = "") -> str:
    return (tag + "9" * length)[:length]


def edge_v0_order(items: int = 3) -> dict[str, Any]:
    """An order with every field at the edge: the longest text, the largest amounts and
    counters, the first and last moments."""
    money = {"CurrencyCode": "USD", "Amount": TOP}
    order = v0_order()
    order |= {
        "PurchaseDate": FIRST,
        "LastUpdateDate": LAST,
        "EarliestShipDate": FIRST,
        "LatestShipDate": LAST,
        "EarliestDeliveryDate": FIRST,
        "LatestDeliveryDate": LAST,
        "SellerOrderId": longest(64),
        "SalesChannel": longest(100),
        "OrderChannel": longest(100),
        "ShipServiceLevel": longest(100),
        "ShipmentServiceLevelCategory": longest(100),
        "OrderType": longest(100),
        "MarketplaceId": ("A" + "Z9" * 10)[:20],
        "OrderTotal": money,
        "NumberOfItemsShipped": inputs.INT32_MAX,
        "NumberOfItemsUnshipped": inputs.INT32_MAX,
    }
    order["BuyerInfo"] = {
        "BuyerEmail": longest(64),
        "BuyerName": longest(50),
        "BuyerCounty": longest(150),
        "PurchaseOrderNumber": longest(64),
    }
    order["ShippingAddress"] = {
        "Name": longest(50),
        "AddressLine1": longest(60),
        "AddressLine2": longest(60),
        "AddressLine3": longest(60),
        "City": longest(50),
        "County": longest(150),
        "District": longest(150),
        "StateOrRegion": longest(150),
        "Municipality": longest(150),
        "PostalCode": longest(20),
        "CountryCode": "US",
        "Phone": longest(20),
        "AddressType": longest(100),
    }
    order["OrderItems"] = [
        {
            "ASIN": "Z" * 10,
            "OrderItemId": ident(64, f"{i}-"),
            "QuantityOrdered": inputs.MAX_QUANTITY,
            "QuantityShipped": 0,
            "SellerSKU": longest(255),
            "Title": longest(500),
            "ItemPrice": money,
            "ShippingPrice": money,
            "ItemTax": money,
            "ShippingTax": money,
            "PromotionDiscount": money,
            "ConditionId": longest(100),
            "IsGift": True,
            "BuyerRequestedCancel": {
                "IsBuyerRequestedCancel": False,
                "BuyerCancelReason": longest(500),
            },
        }
        for i in range(items)
    ]
    return order


def edge_v2026_order() -> dict[str, Any]:
    order = v2026_order()
    unit = {"amount": "999999999.9999", "currencyCode": "USD"}  # times 100,000: under the top
    top = {"amount": TOP, "currencyCode": "USD"}
    order["createdTime"], order["lastUpdatedTime"] = FIRST, LAST
    order["orderAliases"][0]["aliasId"] = longest(64)
    order["salesChannel"]["marketplaceName"] = longest(100)
    order["buyer"] |= {"buyerName": longest(50), "buyerEmail": longest(64)}
    order["proceeds"] = {"grandTotal": top, "breakdowns": [{"type": "TAX", "subtotal": top}]}
    [item] = order["orderItems"]
    item["quantityOrdered"] = inputs.MAX_QUANTITY
    item["product"] |= {
        "title": longest(500),
        "sellerSku": longest(255),
        "price": {"unitPrice": unit},
    }
    item["product"]["condition"]["conditionType"] = "ß" * 50
    item["proceeds"] = {"proceedsTotal": top, "breakdowns": [{"type": "TAX", "subtotal": top}]}
    item["fulfillment"] |= {"quantityFulfilled": 0, "quantityUnfulfilled": inputs.MAX_QUANTITY}
    return order


def edge_ad_rows() -> list[dict[str, Any]]:
    rows = []
    for day in ("1970-01-01", "2099-12-31"):
        row = ad_row() | {
            "date": day,
            "marketplace_id": "A" * 20,
            "campaign_id": ident(64, "C"),
            "campaign_name": longest(256),
            "seller_sku": longest(255),
            "impressions": inputs.INT64_MAX,
            "clicks": inputs.INT64_MAX,
            "spend": TOP,
            "attributed_orders": inputs.INT32_MAX,
            "attributed_units": inputs.INT32_MAX,
            "attributed_sales": TOP,
        }
        rows.append(row)
    return rows
