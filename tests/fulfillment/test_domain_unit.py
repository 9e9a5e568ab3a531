"""The domain on its own: state machine, snapshot merge rule, shipment, refund and return
rules, and the ship-by clock with a fixed clock. No I/O."""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import orjson
import pytest

from fulfillment.adapters import codec
from fulfillment.adapters.pii import BuyerPII
from fulfillment.domain import carriers, search
from fulfillment.domain import events as ev
from fulfillment.domain import state_machine as sm
from fulfillment.domain.errors import (
    FulfilledByAmazon,
    InvalidInput,
    InvalidTransition,
    QuantityExceeded,
    RefundExceedsPaid,
)
from fulfillment.domain.model import Item, ItemQuantity, Order, RefundRequest
from fulfillment.domain.search import SearchFilters
from fulfillment.domain.state_machine import Action, Status
from shared.marketplaces import MARKETPLACES
from shared.pii import PIICipher

pytestmark = pytest.mark.unit

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
S = Status


def order(
    status: Status = S.UNSHIPPED, channel: str = "MFN", version: int = 1, **kw: object
) -> Order:
    values: dict[str, object] = {
        "amazon_order_id": "111-0000001-0000001",
        "seller_id": "A2SELLER",
        "status": status,
        "amazon_status": status,
        "snapshot_version": version,
        "purchase_date": NOW - timedelta(days=1),
        "last_update_date": NOW - timedelta(days=1),
        "fulfillment_channel": channel,
        "latest_ship_date": NOW + timedelta(hours=6),
        "order_total": Decimal("50.00"),
        "currency_code": "USD",
        "items": [
            Item(
                "A",
                "B0A",
                2,
                item_price=Decimal("20.00"),
                shipping_price=Decimal("4.00"),
                item_tax=Decimal("1.00"),
            ),
            Item(
                "B",
                "B0B",
                1,
                item_price=Decimal("20.00"),
                shipping_price=Decimal("4.00"),
                item_tax=Decimal("1.00"),
            ),
        ],
    }
    values.update(kw)
    return Order(**values)  # type: ignore[arg-type]


def ship(
    o: Order, items: list[ItemQuantity] | None = None, tracking: str = "1Z999AA10123456784"
) -> None:
    o.confirm_shipment(
        shipment_id="s1",
        carrier_code="UPS",
        tracking_number=tracking,
        ship_date=NOW,
        items=items,
        now=NOW,
    )


# ---- state machine ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("status", "action", "target"),
    [
        (S.UNSHIPPED, Action.SHIP_ALL, S.SHIPPED),
        (S.UNSHIPPED, Action.SHIP_PART, S.PARTIALLY_SHIPPED),
        (S.PARTIALLY_SHIPPED, Action.SHIP_ALL, S.SHIPPED),
        (S.PENDING, Action.CANCEL, S.CANCELED),
        (S.UNSHIPPED, Action.CANCEL, S.CANCELED),
        (S.SHIPPED, Action.REFUND, S.SHIPPED),
        (S.SHIPPED, Action.AUTHORIZE_RETURN, S.SHIPPED),
    ],
)
def test_allowed_transitions(status: Status, action: Action, target: Status) -> None:
    assert sm.transition(status, action) is target


@pytest.mark.parametrize(
    ("status", "action", "why"),
    [
        (S.PENDING, Action.SHIP_ALL, "payment is not authorised"),
        (S.SHIPPED, Action.CANCEL, "already shipped"),
        (S.PARTIALLY_SHIPPED, Action.CANCEL, "refund instead"),
        (S.UNSHIPPED, Action.REFUND, "cancel the order"),
        (S.CANCELED, Action.SHIP_ALL, "canceled"),
        (S.CANCELED, Action.REFUND, "canceled"),
    ],
)
def test_forbidden_transitions_say_why(status: Status, action: Action, why: str) -> None:
    with pytest.raises(InvalidTransition, match=why) as caught:
        sm.transition(status, action)
    assert caught.value.status == status.value


@pytest.mark.parametrize(
    ("local", "amazon", "kept"),
    [
        (S.SHIPPED, S.UNSHIPPED, S.SHIPPED),  # a late snapshot never undoes the seller
        (S.PARTIALLY_SHIPPED, S.UNSHIPPED, S.PARTIALLY_SHIPPED),
        (S.PENDING, S.UNSHIPPED, S.UNSHIPPED),  # progress is taken
        (S.UNSHIPPED, S.PENDING, S.UNSHIPPED),  # regression is not
        (S.UNSHIPPED, S.CANCELED, S.CANCELED),  # Amazon's terminal statuses win
        (S.PARTIALLY_SHIPPED, S.SHIPPED, S.SHIPPED),
        (S.SHIPPED, S.INVOICE_UNCONFIRMED, S.INVOICE_UNCONFIRMED),
        (S.CANCELED, S.SHIPPED, S.CANCELED),  # a canceled order stays canceled
        (S.SHIPPED, S.CANCELED, S.SHIPPED),
    ],
)
def test_snapshot_merge_rule(local: Status, amazon: Status, kept: Status) -> None:
    assert sm.merge_amazon_status(local, amazon) is kept


def test_merge_takes_amazon_fields_keeps_shipments_and_drops_stale() -> None:
    held = order()
    ship(held, [ItemQuantity("A", 2)])
    newer = order(version=2, ship_service_level="Expedited")
    assert held.merge_amazon(newer, NOW)
    assert held.status is S.PARTIALLY_SHIPPED
    assert held.ship_service_level == "Expedited"
    assert held.items[0].quantity_shipped == 2
    assert not held.merge_amazon(order(version=2), NOW)
    assert not held.merge_amazon(order(version=1), NOW)


def test_fba_follows_amazon_and_refuses_seller_actions() -> None:
    fba = order(S.PENDING, channel="AFN")
    assert fba.merge_amazon(order(S.SHIPPED, channel="AFN", version=2), NOW)
    assert fba.status is S.SHIPPED
    with pytest.raises(FulfilledByAmazon):
        fba.refund(refund_id="r", reason="Other", lines=None, now=NOW)
    assert fba.allowed_actions() == []


# ---- shipments ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("carrier", "number", "valid"),
    [
        ("UPS", "1Z999AA10123456784", True),
        ("UPS", "1Z999AA1012345678", False),
        ("USPS", "9400100000000000000000", True),
        ("USPS", "EA123456785US", True),
        ("USPS", "EA123456785DE", False),
        ("USPS", "EA123456789US", False),
        ("FedEx", "123456789012", True),
        ("FedEx", "123456789012345", True),
        ("FedEx", "1234567890123", False),
        ("DHL", "1234567890", True),
        ("DHL", "123456789", False),
        ("Amazon Shipping", "TBA123456789012", True),
        ("Amazon Shipping", "TBA12345678901", False),
        ("Local Courier", "1Z999AA10123456784", True),
        ("Local Courier", "LC-00012345", True),
        ("Local Courier", "X1", False),
    ],
)
def test_tracking_formats(carrier: str, number: str, valid: bool) -> None:
    code = carriers.canonical(carrier)
    assert carriers.tracking_valid(code, carriers.normalise_tracking(number)) is valid


def test_shipment_quantities_status_and_version() -> None:
    o = order()
    ship(o, [ItemQuantity("A", 1)])
    assert (o.status, o.version) == (S.PARTIALLY_SHIPPED, 1)
    with pytest.raises(QuantityExceeded, match="1 left to ship"):
        ship(o, [ItemQuantity("A", 2)], tracking="1Z999AA10123456785")
    ship(o, None, tracking="1Z999AA10123456786")
    assert o.status is S.SHIPPED
    assert [type(e) for e in o.events] == [ev.ShipmentConfirmed, ev.ShipmentConfirmed]
    assert [e.version for e in o.events] == [1, 2]
    assert [(i.order_item_id, i.quantity) for i in o.shipments[1].items] == [("A", 1), ("B", 1)]


def test_same_shipment_twice_is_not_confirmed_twice() -> None:
    o = order()
    ship(o, [ItemQuantity("A", 1)])
    _, created = o.confirm_shipment(
        shipment_id="s2",
        carrier_code="ups",
        tracking_number="1z999aa1012345 6784",
        ship_date=NOW,
        items=[ItemQuantity("A", 1)],
        now=NOW,
    )
    assert not created and len(o.shipments) == 1 and len(o.events) == 1


def test_ship_date_rules_and_on_time() -> None:
    o = order()
    with pytest.raises(InvalidInput, match="future"):
        o.confirm_shipment(
            shipment_id="s",
            carrier_code="UPS",
            tracking_number="1Z999AA10123456784",
            ship_date=NOW + timedelta(hours=1),
            items=None,
            now=NOW,
        )
    with pytest.raises(InvalidInput, match="purchase date"):
        o.confirm_shipment(
            shipment_id="s",
            carrier_code="UPS",
            tracking_number="1Z999AA10123456784",
            ship_date=NOW - timedelta(days=2),
            items=None,
            now=NOW,
        )
    late = NOW + timedelta(hours=7)
    shipment, _ = o.confirm_shipment(
        shipment_id="s",
        carrier_code="UPS",
        tracking_number="1Z999AA10123456784",
        ship_date=NOW,
        items=None,
        now=late,
    )
    assert shipment.on_time is False


# ---- cancellation, refunds, returns -----------------------------------------------------
def test_cancel_buyer_requested_flags() -> None:
    seller = order()
    assert seller.cancel(reason="NoInventory", now=NOW).buyer_requested is False
    assert order().cancel(reason="BuyerCanceled", now=NOW).buyer_requested is True
    flagged = order(is_buyer_requested_cancel=True)
    assert flagged.cancel(reason="NoInventory", now=NOW).buyer_requested is True
    with pytest.raises(InvalidInput):
        order().cancel(reason="Bored", now=NOW)


def test_refunds_capped_by_item_and_order() -> None:
    o = order(order_total=Decimal("40.00"))  # items say 50: a promotion took 10 off
    ship(o)
    o.refund(
        refund_id="r1", reason="PriceError", lines=[RefundRequest("A", Decimal("20.00"))], now=NOW
    )
    with pytest.raises(RefundExceedsPaid, match=r"5\.00 still refundable"):
        o.refund(
            refund_id="r2",
            reason="PriceError",
            lines=[RefundRequest("A", Decimal("5.01"))],
            now=NOW,
        )
    with pytest.raises(
        RefundExceedsPaid, match="on the order"
    ):  # 30 left on items, 20 on the order
        o.refund(refund_id="r3", reason="Other", lines=None, now=NOW)
    refund = o.refund(
        refund_id="r4", reason="Other", lines=[RefundRequest("B", Decimal("20.00"))], now=NOW
    )
    assert refund.total == Decimal("20.00") and o.refunded_total() == Decimal("40.00")


def test_return_then_receipt_with_refund() -> None:
    o = order()
    ship(o)
    with pytest.raises(QuantityExceeded):
        o.authorize_return(
            return_id="x", rma_id="R", items=[ItemQuantity("B", 2)], reason=None, now=NOW
        )
    o.authorize_return(
        return_id="x", rma_id="R", items=[ItemQuantity("A", 1)], reason=None, now=NOW
    )
    ret, refund = o.receive_return("x", now=NOW, refund_id="r")
    assert ret.received_at == NOW and refund is not None and refund.total == Decimal("12.50")
    assert [type(e) for e in o.events][-3:] == [
        ev.ReturnAuthorized,
        ev.ReturnReceived,
        ev.RefundIssued,
    ]


# ---- ship-by clock -------------------------------------------------------------------------
def test_clock_and_late_flag_once() -> None:
    o = order()
    assert o.clock(NOW).due_in_seconds == 6 * 3600
    later = NOW + timedelta(hours=7)
    assert o.clock(later).overdue_by_seconds == 3600
    assert not o.flag_late(NOW)
    assert o.flag_late(later)
    assert not o.flag_late(later + timedelta(hours=1))
    assert [type(e) for e in o.events] == [ev.OrderShippedLate]
    assert not order(channel="AFN").flag_late(later)
    assert not order(S.PENDING).flag_late(later)
    shipped = order()
    ship(shipped)
    assert not shipped.flag_late(later) and shipped.clock(later).running is False


def test_codec_round_trip() -> None:
    o = order()
    ship(o, [ItemQuantity("A", 1)])
    o.refund(refund_id="r", reason="Other", lines=[RefundRequest("A", Decimal("1.50"))], now=NOW)
    back = codec.order_of(orjson.loads(codec.dump(o)))
    assert "events" not in orjson.loads(codec.dump(o))
    assert back == o
    assert back.refunds[0].lines[0].amount == Decimal("1.50")
    assert back.status is S.PARTIALLY_SHIPPED
    assert back.events == []  # what was announced is not stored, and not read back


def test_codec_reads_documents_of_other_builds_and_refuses_broken_ones() -> None:
    o = order()
    ship(o, [ItemQuantity("A", 1)])
    doc = orjson.loads(codec.dump(o))
    doc["field_of_a_later_build"] = {"x": 1}  # a newer writer's field: ignored
    doc["shipments"][0]["note_of_a_later_build"] = "x"
    assert codec.order_of(doc) == o
    del doc["amazon_order_id"]
    with pytest.raises(ValueError, match="amazon_order_id"):
        codec.order_of(doc)
    broken = orjson.loads(codec.dump(o))
    broken["purchase_date"] = "not a date"
    with pytest.raises(ValueError, match="purchase_date"):
        codec.order_of(broken)


# ---- search defaults -----------------------------------------------------------------------
def test_search_defaults_and_what_overrides_them() -> None:
    plain, applied = search.with_defaults(SearchFilters(), ship_by=None, now=NOW)
    # today (Nov 26) and the 6 days before, from midnight on each marketplace's calendar
    since = plain.purchased_since
    assert since is not None and since.other == datetime(2026, 11, 20, tzinfo=UTC)
    starts = dict(since.by_marketplace)
    assert starts["ATVPDKIKX0DER"] == datetime(2026, 11, 20, 8, tzinfo=UTC)  # PST midnight
    assert starts["A1VC38T7YXB528"] == datetime(2026, 11, 19, 15, tzinfo=UTC)  # JST midnight
    assert plain.purchase_date_from == datetime(2026, 11, 19, 13, tzinfo=UTC)  # Sydney, earliest
    assert plain.exclude_statuses == ("Pending",)
    assert applied[0].startswith("purchase_date_from=local midnight 6 days before today")
    assert applied[1:] == ["status excludes Pending"]
    # at 01:00 in Tokyo (16:00 UTC) Tokyo's seven days already start a day later than London's
    late = datetime(2026, 11, 26, 16, tzinfo=UTC)
    tokyo = dict(search.LocalMidnight.days_after(late, -6).by_marketplace)
    assert tokyo["A1VC38T7YXB528"] == datetime(2026, 11, 20, 15, tzinfo=UTC)
    dated = SearchFilters(purchase_date_to=NOW, statuses=("Pending",))
    explicit, applied = search.with_defaults(dated, ship_by=None, now=NOW)
    assert explicit == dated and applied == []
    by_id, applied = search.with_defaults(SearchFilters(amazon_order_id="1"), ship_by=None, now=NOW)
    assert by_id.purchase_date_from is None and applied == []


def test_ship_by_views() -> None:
    overdue, _ = search.with_defaults(SearchFilters(), ship_by="overdue", now=NOW)
    assert (overdue.latest_ship_date_from, overdue.latest_ship_date_to) == (None, NOW)
    assert overdue.statuses == ("Unshipped", "PartiallyShipped")
    assert overdue.fulfillment_channel == "MFN" and overdue.purchase_date_from is None
    today, _ = search.with_defaults(SearchFilters(), ship_by="due_today", now=NOW)
    assert today.latest_ship_date_from == NOW and today.latest_ship_date_to is None
    day_end = today.latest_ship_date_before
    assert day_end is not None and day_end.other == datetime(2026, 11, 27, tzinfo=UTC)
    ends = dict(day_end.by_marketplace)
    assert ends["A1VC38T7YXB528"] == datetime(2026, 11, 26, 15, tzinfo=UTC)  # JST midnight
    assert ends["ATVPDKIKX0DER"] == datetime(2026, 11, 27, 8, tzinfo=UTC)  # PST midnight
    assert ends["A1F83G8C2ARO7P"] == datetime(2026, 11, 27, tzinfo=UTC)  # London, winter
    assert len(ends) == len(MARKETPLACES)


def test_the_day_end_follows_daylight_saving_time() -> None:
    summer = datetime(2026, 7, 1, 12, tzinfo=UTC)
    ends = dict(search.LocalMidnight.of(summer).by_marketplace)
    assert ends["ATVPDKIKX0DER"] == datetime(2026, 7, 2, 7, tzinfo=UTC)  # PDT midnight
    assert ends["A1F83G8C2ARO7P"] == datetime(2026, 7, 1, 23, tzinfo=UTC)  # BST midnight
    late_in_seattle = datetime(2026, 7, 2, 5, tzinfo=UTC)  # 22:00 PDT on July 1
    assert dict(search.LocalMidnight.of(late_in_seattle).by_marketplace)[
        "ATVPDKIKX0DER"
    ] == datetime(2026, 7, 2, 7, tzinfo=UTC)
    shipped, _ = search.with_defaults(
        SearchFilters(statuses=("Shipped",)), ship_by="overdue", now=NOW
    )
    assert shipped.statuses == (search.NO_STATUS,)


def test_the_email_hash_is_the_keyed_hmac_of_the_trimmed_lower_cased_address() -> None:
    """Stored hashes and the hashes of searched addresses must agree across releases."""
    key = PIICipher.generate_key()
    derived = hashlib.sha256(b"orderflow-fulfillment-buyer-email:" + key.encode()).digest()
    expected = hmac.new(derived, b"buyer@example.com", hashlib.sha256).hexdigest()
    pii = BuyerPII(f"{key},{PIICipher.generate_key()}")  # the first key is the hash key
    assert pii.email_hash("  Buyer@Example.COM ") == expected
    assert pii.email_hash("   ") is None and pii.email_hash(None) is None
