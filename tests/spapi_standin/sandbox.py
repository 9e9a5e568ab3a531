"""Static sandbox cases, copied from the ``x-amzn-api-sandbox.static`` examples of Amazon's
models (amzn/selling-partner-api-models: ordersV0.json and orders_2026-01-01.json), trimmed to
the fields that matter here. The sandbox matches requests against these parameters."""

from __future__ import annotations

from typing import Any

ERROR_400_V0 = {"errors": [{"code": "InvalidInput", "message": "Invalid Input"}]}
ERROR_400_SEARCH = {
    "errors": [{"code": "InvalidInput", "message": "Invalid Input", "details": "Invalid Input"}]
}
ERROR_400_GET = {"errors": [{"code": "InvalidInput", "message": "Invalid Input"}]}


def _v0_order(order_id: str) -> dict[str, Any]:
    return {
        "AmazonOrderId": order_id,
        "PurchaseDate": "1970-01-19T03:58:30Z",
        "LastUpdateDate": "1970-01-19T03:58:32Z",
        "OrderStatus": "Unshipped",
        "FulfillmentChannel": "MFN",
        "SalesChannel": "Amazon.com",
        "ShipServiceLevel": "Std US D2D Dom",
        "OrderTotal": {"CurrencyCode": "USD", "Amount": "11.01"},
        "NumberOfItemsShipped": 0,
        "NumberOfItemsUnshipped": 1,
        "PaymentMethod": "Other",
        "PaymentMethodDetails": ["Standard"],
        "IsReplacementOrder": False,
        "MarketplaceId": "ATVPDKIKX0DER",
        "ShipmentServiceLevelCategory": "Standard",
        "OrderType": "StandardOrder",
        "EarliestShipDate": "1970-01-19T03:59:27Z",
        "LatestShipDate": "1970-01-19T04:05:13Z",
        "EarliestDeliveryDate": "1970-01-19T04:06:39Z",
        "LatestDeliveryDate": "1970-01-19T04:15:17Z",
        "IsBusinessOrder": False,
        "IsPrime": False,
        "IsPremiumOrder": False,
        "IsISPU": False,
        "IsAccessPointOrder": False,
        "EasyShipShipmentStatus": "PendingPickUp",
        "ElectronicInvoiceStatus": "NotRequired",
    }


# getOrders: CreatedAfter=TEST_CASE_200, MarketplaceIds=ATVPDKIKX0DER
GET_ORDERS_200 = {
    "payload": {
        "CreatedBefore": "1.569521782042E9",
        "Orders": [_v0_order("902-1845936-5435065"), _v0_order("902-8745147-1934268")],
    }
}

# getOrder (v0): the model's example order, returned for orderId=TEST_CASE_200.
GET_ORDER_200 = {
    "payload": {
        "AmazonOrderId": "902-3159896-1390916",
        "PurchaseDate": "2017-01-20T19:49:35Z",
        "LastUpdateDate": "2017-01-20T19:49:35Z",
        "OrderStatus": "Pending",
        "FulfillmentChannel": "MFN",
        "NumberOfItemsShipped": 0,
        "NumberOfItemsUnshipped": 0,
        "PaymentMethod": "Other",
        "MarketplaceId": "ATVPDKIKX0DER",
        "ShipmentServiceLevelCategory": "Standard",
        "OrderType": "StandardOrder",
        "EarliestShipDate": "2017-01-20T19:51:16Z",
        "LatestShipDate": "2017-01-25T19:49:35Z",
        "IsBusinessOrder": False,
        "IsPrime": False,
        "IsPremiumOrder": False,
    }
}

# getOrder (v2026-01-01): orderId=171-9876543-2109876 with includedData.
GET_ORDER_2026_ID = "171-9876543-2109876"
GET_ORDER_2026 = {
    "order": {
        "orderId": "171-9876543-2109876",
        "orderAliases": [{"aliasId": "BR-CONSUMER-ORDER-2024-003", "aliasType": "SELLER_ORDER_ID"}],
        "createdTime": "2024-12-24T20:30:00Z",
        "lastUpdatedTime": "2024-12-25T08:15:00Z",
        "programs": ["PRIME"],
        "salesChannel": {
            "channelName": "AMAZON",
            "marketplaceId": "A2Q3Y263D00KWC",
            "marketplaceName": "Amazon.com.br",
        },
        "buyer": {
            "buyerName": "Maria Silva Santos",
            "buyerEmail": "buyer-email@marketplace.amazon.com.br",
        },
        "recipient": {
            "deliveryAddress": {
                "name": "Maria Silva Santos",
                "addressLine1": "Rua das Flores, 123",
                "addressLine2": "Apartamento 45",
                "addressLine3": "",
                "city": "São Paulo",
                "districtOrCounty": "",
                "stateOrRegion": "SP",
                "municipality": "",
                "postalCode": "01234-567",
                "countryCode": "BR",
                "phone": "+55 11 98765-4321",
                "addressType": "RESIDENTIAL",
            }
        },
        "proceeds": {"grandTotal": {"amount": "299.90", "currencyCode": "BRL"}},
        "fulfillment": {
            "fulfillmentStatus": "UNSHIPPED",
            "fulfilledBy": "MERCHANT",
            "fulfillmentServiceLevel": "STANDARD",
            "shipByWindow": {
                "earliestDateTime": "2024-12-26T00:00:00Z",
                "latestDateTime": "2024-12-27T23:59:59Z",
            },
            "deliverByWindow": {
                "earliestDateTime": "2024-12-28T00:00:00Z",
                "latestDateTime": "2024-12-31T23:59:59Z",
            },
        },
        "orderItems": [
            {
                "orderItemId": "17198765432109",
                "quantityOrdered": 1,
                "product": {
                    "asin": "B08N5WRWNW",
                    "title": "Echo Dot (4ª Geração) | Smart Speaker com Alexa | Cor Preta",
                    "sellerSku": "ECHO-DOT-4-BR-PRETO",
                    "condition": {"conditionType": "NEW", "conditionSubtype": "NEW"},
                    "price": {"unitPrice": {"amount": "299.90", "currencyCode": "BRL"}},
                },
                "proceeds": {
                    "proceedsTotal": {"amount": "299.90", "currencyCode": "BRL"},
                    "breakdowns": [
                        {"type": "ITEM", "subtotal": {"amount": "299.90", "currencyCode": "BRL"}}
                    ],
                },
                "promotion": {"breakdowns": [{"promotionId": "BR-NATAL-2024"}]},
                "fulfillment": {
                    "quantityFulfilled": 0,
                    "quantityUnfulfilled": 1,
                    "packing": {
                        "giftOption": {
                            "giftMessage": "Feliz Natal!",
                            "giftWrapLevel": "STANDARD",
                        }
                    },
                },
            }
        ],
    }
}
