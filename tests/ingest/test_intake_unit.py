"""Unit tests of ingest's rules: the intake decision, Amazon's shape, the flat-file report."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from ingest.intake.adapters import amazon_v0, flatfile
from ingest.intake.domain.errors import UnreadableUpload
from ingest.intake.domain.model import IncomingOrder, IntakeResult, KnownOrder, Rejected, decide
from orderflow_testkit.samples import amazon_order

pytestmark = pytest.mark.unit

T0 = datetime(2026, 11, 20, 10, tzinfo=UTC)


def _incoming(updated: datetime, items: int = 1) -> IncomingOrder:
    return IncomingOrder(
        "111-1111111-1111111", updated, "Unshipped", None, {"items": [{}] * items}, None
    )


@pytest.mark.parametrize(
    ("known", "incoming", "expected"),
    [
        (None, _incoming(T0), IntakeResult.CREATED),
        (KnownOrder("S", T0, 1, 1), _incoming(T0 + timedelta(seconds=1)), IntakeResult.UPDATED),
        (KnownOrder("S", T0, 1, 1), _incoming(T0), IntakeResult.UNCHANGED),
        (KnownOrder("S", T0, 2, 1), _incoming(T0 - timedelta(days=1)), IntakeResult.STALE),
        (KnownOrder("S", T0, 1, 0), _incoming(T0, items=2), IntakeResult.UPDATED),
        (KnownOrder("S", T0, 1, 2), _incoming(T0, items=0), IntakeResult.UNCHANGED),
    ],
    ids=["new", "newer", "same", "older", "pending-gets-items", "same-fewer-items"],
)
def test_decide(known: KnownOrder | None, incoming: IncomingOrder, expected: IntakeResult) -> None:
    assert decide(known, incoming) is expected


def test_pending_order_without_items_totals_or_address_is_accepted() -> None:
    parsed = amazon_v0.parse(amazon_order(status="Pending"))
    assert isinstance(parsed, IncomingOrder)
    assert parsed.pii is None and parsed.fields["items"] == []
    assert parsed.fields["order_total"] is None


def test_getorder_payload_wrapper_and_unknown_fields_are_accepted() -> None:
    order = amazon_order(IsISPU=False, SomeFutureField={"x": 1})
    parsed = amazon_v0.parse({"payload": order})
    assert isinstance(parsed, IncomingOrder)
    assert parsed.pii is not None and parsed.pii["buyer_email"].startswith("buyer-")
    assert "buyer_email" not in str(parsed.fields)


def test_naive_dates_and_bad_currency_are_rejected_with_field_names() -> None:
    parsed = amazon_v0.parse(
        amazon_order(
            PurchaseDate="2026-11-20T10:00:00", OrderTotal={"CurrencyCode": "usd", "Amount": "1"}
        )
    )
    assert isinstance(parsed, Rejected)
    assert {r["field"] for r in parsed.reasons} == {"PurchaseDate", "OrderTotal.CurrencyCode"}


def test_flat_file_comma_separated_groups_rows_by_order() -> None:
    content = (
        b"amazon-order-id,purchase-date,last-updated-date,order-status,fulfillment-channel,"
        b"sku,asin,quantity,currency,item-price\n"
        b"111-0000000-0000001,2026-11-20T10:00:00Z,2026-11-20T10:00:00Z,Cancelled,Amazon,"
        b"A,B000000001,1,EUR,5.00\n"
        b"111-0000000-0000001,2026-11-20T10:00:00Z,2026-11-20T10:00:00Z,Cancelled,Amazon,"
        b"B,B000000002,3,EUR,7.50\n"
    )
    [order] = flatfile.orders_of(flatfile.read_rows(content))
    assert isinstance(order, IncomingOrder)
    assert order.order_status == "Canceled"
    assert order.fields["fulfillment_channel"] == "AFN"
    assert [i["quantity_ordered"] for i in order.fields["items"]] == [1, 3]
    assert order.fields["order_total"] == {"amount": "12.50", "currency_code": "EUR"}


def test_flat_file_without_the_report_columns_is_unreadable() -> None:
    with pytest.raises(UnreadableUpload):
        flatfile.read_rows(b"a\tb\n1\t2\n")
    with pytest.raises(UnreadableUpload):
        flatfile.read_rows(b"")


def test_flat_file_buyer_columns_are_the_orders_pii_and_nothing_else_holds_them() -> None:
    """The report's buyer columns go where a JSON order's do (BuyerInfo, ShippingAddress), so
    the intake seals them; no other field of the order carries them."""
    content = (
        b"amazon-order-id\tpurchase-date\tlast-updated-date\torder-status\tsku\tasin\tquantity\t"
        b"buyer-email\tbuyer-name\tbuyer-phone-number\trecipient-name\tship-address-1\t"
        b"ship-address-2\tship-city\tship-postal-code\tship-country\n"
        b"111-0000000-0000002\t2026-11-20T10:00:00Z\t2026-11-20T10:00:00Z\tUnshipped\tA\tB000000001\t"
        b"1\tjo@example.org\tJo Buyer\t+12065550100\tJo Recipient\t1 Elm St\tApt 2\tSeattle\t"
        b"98101\tUS\n"
    )
    [order] = flatfile.orders_of(flatfile.read_rows(content))
    assert isinstance(order, IncomingOrder)
    assert order.pii == {
        "buyer_name": "Jo Buyer",
        "buyer_email": "jo@example.org",
        "purchase_order_number": None,
        "shipping_address": {
            "Name": "Jo Recipient",
            "AddressLine1": "1 Elm St",
            "AddressLine2": "Apt 2",
            "City": "Seattle",
            "PostalCode": "98101",
            "CountryCode": "US",
            "Phone": "+12065550100",
        },
    }
    fields = str(order.fields)
    assert not any(v in fields for v in ("jo@example.org", "Jo ", "Elm", "0100", "Apt 2"))
