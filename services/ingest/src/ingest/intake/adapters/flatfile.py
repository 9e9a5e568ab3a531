"""Amazon's flat-file order report (tab- or comma-separated), one row per order item.

The file is read as ``shared.flatfile`` reads every flat file (text, its shape checked); rows
are grouped by ``amazon-order-id`` and turned into the Orders v0 shape, so a file's orders pass
the very same validation (the input policy) as ``POST /v1/orders``, and their buyer PII (the
report's ``buyer-*``, ``recipient-name``, ``ship-address-*`` and ``ship-phone-number`` columns)
lands in ``BuyerInfo`` and ``ShippingAddress``, where the intake seals it as it does a JSON
order's. A rejected order names the file rows it came from.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from decimal import Decimal, InvalidOperation
from typing import Any

from ingest.intake.adapters import amazon_v0
from ingest.intake.domain.errors import UnreadableUpload
from ingest.intake.domain.model import IncomingOrder, Rejected
from shared import flatfile, inputs

REQUIRED = ("amazon-order-id", "purchase-date", "last-updated-date", "order-status")
STATUS = {"cancelled": "Canceled", "canceled": "Canceled", "shipping": "Unshipped"}
CHANNEL = {"amazon": "AFN", "afn": "AFN", "merchant": "MFN", "mfn": "MFN"}
MONEY_COLUMNS = {
    "item-price": "ItemPrice",
    "item-tax": "ItemTax",
    "shipping-price": "ShippingPrice",
    "shipping-tax": "ShippingTax",
    "item-promotion-discount": "PromotionDiscount",
}


sha256 = flatfile.sha256


def read_rows(content: bytes) -> list[tuple[int, dict[str, str]]]:
    """The file's data rows with their line numbers (header is line 1)."""
    try:
        return flatfile.read_rows(content, required=REQUIRED, kind="an order report")
    except flatfile.UnreadableFile as exc:
        raise UnreadableUpload(str(exc)) from None


def orders_of(rows: list[tuple[int, dict[str, str]]]) -> list[IncomingOrder | Rejected]:
    grouped: dict[str, list[tuple[int, dict[str, str]]]] = {}
    for number, row in rows:
        grouped.setdefault(row.get("amazon-order-id", ""), []).append((number, row))
    return [_order(group) for group in grouped.values()]


def _order(group: list[tuple[int, dict[str, str]]]) -> IncomingOrder | Rejected:
    numbers = [n for n, _ in group]
    first = group[0][1]
    document = _order_document(first, [row for _, row in group])
    parsed = amazon_v0.parse(document)
    if isinstance(parsed, Rejected):
        return Rejected(
            reasons=parsed.reasons,
            amazon_order_id=parsed.amazon_order_id,
            raw=document,
            rows=numbers,
        )
    return parsed


def _order_document(first: dict[str, str], rows: list[dict[str, str]]) -> dict[str, Any]:
    document: dict[str, Any] = {
        "AmazonOrderId": first.get("amazon-order-id"),
        "SellerOrderId": first.get("merchant-order-id") or None,
        "PurchaseDate": first.get("purchase-date"),
        "LastUpdateDate": first.get("last-updated-date"),
        "OrderStatus": STATUS.get(first.get("order-status", "").lower(), first.get("order-status")),
        "FulfillmentChannel": CHANNEL.get(first.get("fulfillment-channel", "").lower()),
        "SalesChannel": first.get("sales-channel") or None,
        "OrderChannel": first.get("order-channel") or None,
        "ShipServiceLevel": first.get("ship-service-level") or None,
        "IsBusinessOrder": first.get("is-business-order", "").lower() == "true",
        "BuyerInfo": {
            "BuyerEmail": first.get("buyer-email") or None,
            "BuyerName": first.get("buyer-name") or None,
            "PurchaseOrderNumber": first.get("purchase-order-number") or None,
        },
        "ShippingAddress": {
            "Name": first.get("recipient-name") or None,
            "AddressLine1": first.get("ship-address-1") or None,
            "AddressLine2": first.get("ship-address-2") or None,
            "AddressLine3": first.get("ship-address-3") or None,
            "City": first.get("ship-city") or None,
            "StateOrRegion": first.get("ship-state") or None,
            "PostalCode": first.get("ship-postal-code") or None,
            "CountryCode": first.get("ship-country") or None,
            "Phone": first.get("ship-phone-number") or first.get("buyer-phone-number") or None,
        },
        "OrderItems": [_item(row, i) for i, row in enumerate(rows)],
    }
    total = _total(rows)
    if total is not None:
        document["OrderTotal"] = total
    return document


def _item(row: dict[str, str], index: int) -> dict[str, Any]:
    item: dict[str, Any] = {
        "ASIN": row.get("asin"),
        "SellerSKU": row.get("sku") or None,
        "OrderItemId": row.get("order-item-id") or _item_id(row, index),
        "Title": row.get("product-name") or None,
        "QuantityOrdered": row.get("quantity") or "0",
    }
    currency = row.get("currency") or None
    for column, name in MONEY_COLUMNS.items():
        if row.get(column):
            item[name] = {"CurrencyCode": currency, "Amount": row[column]}
    return item


_ID_SHAPE = re.compile(inputs.IDENTIFIER)


def _item_id(row: dict[str, str], index: int) -> str:
    """A row without order-item-id: ``<asin>-<sku>-<index>``, stable across uploads of the
    same report; a SKU the id's character set cannot hold is replaced by its digest."""
    made = f"{row.get('asin')}-{row.get('sku')}-{index}"
    if len(made) <= 64 and _ID_SHAPE.fullmatch(made):
        return made
    digest = hashlib.sha256((row.get("sku") or "").encode()).hexdigest()[:16]
    return f"{row.get('asin')}-{digest}-{index}"[:64]


def _total(rows: list[dict[str, str]]) -> dict[str, str] | None:
    """Order total as Amazon charges it: items, shipping and tax, less promotions."""
    currency = rows[0].get("currency")
    if not currency:
        return None
    try:
        total = sum((_signed(row) for row in rows), Decimal(0))
    except InvalidOperation:
        return None  # the items' own amounts carry the error
    return {"CurrencyCode": currency, "Amount": str(total)}


def _signed(row: dict[str, str]) -> Decimal:
    plus = (
        "item-price",
        "item-tax",
        "shipping-price",
        "shipping-tax",
        "gift-wrap-price",
        "gift-wrap-tax",
    )
    minus = ("item-promotion-discount", "ship-promotion-discount")
    value = sum((Decimal(row[c]) for c in plus if row.get(c)), Decimal(0))
    return value - sum((abs(Decimal(row[c])) for c in minus if row.get(c)), Decimal(0))


def chunks(entries: list[Any], size: int, start: int) -> Iterator[tuple[int, list[Any]]]:
    for offset in range(start, len(entries), size):
        yield offset, entries[offset : offset + size]
