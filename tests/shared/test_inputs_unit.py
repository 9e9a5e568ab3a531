"""The input policy (``shared.inputs``): what its types take and refuse, the messages that name
the rule, and the consumers' side of it: an event from outside that breaks the policy is
poison when decoded, never a value a column cannot hold."""

from __future__ import annotations

import copy
import json
import unicodedata
from decimal import Decimal
from typing import Annotated, Any

import pytest
from pydantic import TypeAdapter, ValidationError

from shared import flatfile, inputs
from shared.errors import PoisonMessage
from shared.events.ads import AD_PERFORMANCE_REPORTED
from shared.events.orders import ORDER_CREATED
from shared.messaging.decoding import Message, decode

pytestmark = pytest.mark.unit

Title = TypeAdapter(inputs.ProductTitle)
Note = TypeAdapter(Annotated[str, inputs.Prose(20)])
REFUSED = {
    "NUL": "a\x00b",
    "bell": "a\x07b",
    "escape": "\x1b[31m",
    "C1": "a\x85b",
    "right-to-left override": "a\u202eb",
    "isolate": "a\u2066b",
    "zero-width space": "a\u200bb",
    "zero-width joiner": "a\u200db",
    "byte-order mark": "\ufeffa",
    "line separator": "a\u2028b",
    "tag": "a\U000e0041b",
    "lone surrogate": "a\ud800b",
}


@pytest.mark.parametrize("value", REFUSED.values(), ids=REFUSED.keys())
def test_text_refuses_control_format_and_separator_characters(value: str) -> None:
    for adapter in (Title, Note):
        with pytest.raises(ValidationError) as raised:
            adapter.validate_python(value)
        assert "printable" in inputs.describe(raised.value.errors()[0]) or "Unicode" in (
            inputs.describe(raised.value.errors()[0])
        )


def test_text_takes_any_printable_unicode_and_prose_its_line_breaks() -> None:
    printable = "Crème brûlée, 漢字, עברית, العربية, 😀, \u00a0no-break, \u3000ideographic"
    assert Title.validate_python(printable) == printable
    assert Note.validate_python("a\tb\r\nc") == "a\tb\r\nc"
    with pytest.raises(ValidationError):
        Title.validate_python("a\nb")
    with pytest.raises(ValidationError):
        Title.validate_python("x" * 501)
    assert Title.validate_python("x" * 500) == "x" * 500


def test_the_refused_ranges_are_unicodes_control_format_and_separator_characters() -> None:
    """``REFUSED_RANGES`` (for ``scrub``) and the documented pattern hold what Unicode says."""
    wanted = {"Cc", "Cf", "Zl", "Zp"}
    for code in range(0x110000):
        if 0xD800 <= code <= 0xDFFF:
            continue
        refused = any(a <= code <= b for a, b in inputs.REFUSED_RANGES)
        assert refused == (unicodedata.category(chr(code)) in wanted), hex(code)


def test_identifiers_keep_their_published_shapes() -> None:
    cases: list[tuple[Any, list[str], list[str]]] = [
        (
            inputs.AmazonOrderId,
            ["113-4567890-1234567"],
            ["113-4567890-123456", "١١٣-4567890-1234567"],
        ),
        (inputs.Asin, ["B08N5WRWNW", "0306406152"], ["b08n5wrwnw", "B08N5WRWN", "B08N5WRWNW\n"]),
        (inputs.MarketplaceId, ["ATVPDKIKX0DER"], ["ATVPDKIKX0DER\u200b", "a" * 21]),
        (inputs.SellerId, ["A2SELLER1EXAMPLE"], ["A2SELLER1EXAMPLE\u202e", "seller", ""]),
        (
            inputs.Identifier,
            ["RMA-1", "12345678901234", "a.b_c:d"],
            ["../etc", "a b", "-x", "x" * 65],
        ),
        (inputs.TrackingNumber, ["1Z999AA10123456784", "9400 1000 0000"], ["ß" * 3, "a/b"]),
    ]
    for kind, good, bad in cases:
        adapter = TypeAdapter(kind)
        for value in good:
            assert adapter.validate_python(value) == value
        for value in bad:
            with pytest.raises(ValidationError) as raised:
                adapter.validate_python(value)
            assert "must be" in inputs.describe(raised.value.errors()[0])


def test_money_fits_every_money_column_and_is_never_a_float() -> None:
    amount = TypeAdapter(inputs.Amount)
    assert amount.validate_python("99999999999999.9999") == Decimal("99999999999999.9999")
    assert amount.validate_python("1E+3") == Decimal("1000")
    assert amount.validate_python("1.50000") == Decimal("1.5")
    assert amount.validate_python(7) == Decimal(7)
    for bad in ("100000000000000", "1e309", "NaN", "Infinity", "-1", "1.00001", 1.5, True, "x"):
        with pytest.raises(ValidationError):
            amount.validate_python(bad)


def test_counters_fit_their_columns() -> None:
    for kind, top in ((inputs.Count32, 2**31 - 1), (inputs.Count64, 2**63 - 1)):
        adapter = TypeAdapter(kind)
        assert adapter.validate_python(top) == top
        for bad in (top + 1, -1, 2**64):
            with pytest.raises(ValidationError):
                adapter.validate_python(bad)


def test_moments_are_within_the_years_1970_to_2099() -> None:
    moment = TypeAdapter(inputs.Moment)
    assert moment.validate_python("1970-01-01T00:00:00Z").year == 1970
    assert moment.validate_python("2099-12-31T23:59:59+00:00").year == 2099
    for bad in ("0001-01-01T00:00:00Z", "9999-12-31T23:59:59Z", "2026-01-01T00:00:00"):
        with pytest.raises(ValidationError):
            moment.validate_python(bad)
    query = TypeAdapter(inputs.QueryMoment)
    assert query.validate_python("2026-01-01T00:00:00").tzinfo is not None  # naive means UTC
    with pytest.raises(ValidationError):
        query.validate_python("0001-01-01T00:00:00")


def test_scrub_makes_refused_input_safe_to_store() -> None:
    assert inputs.scrub("a\x00b\u202ec\ud800", 100) == "a\ufffdb\ufffdc\ufffd"
    assert inputs.scrub("x" * 100, 10) == "x" * 10
    assert inputs.is_clean("Crème 😀") and not inputs.is_clean("a\x00")


def test_field_errors_name_the_field_and_the_rule_without_echoing_the_input() -> None:
    with pytest.raises(ValidationError) as raised:
        TypeAdapter(dict[str, inputs.ProductTitle]).validate_python({"t": "secret\x00"})
    [error] = inputs.field_errors(raised.value.errors(), prefix=("body",))
    assert error["field"] == "body.t" and "secret" not in error["message"]
    assert inputs.summary([error]).startswith("body.t: must be one line of printable text")


# ---- Kafka: events from outside ----------------------------------------------------------------
SNAPSHOT: dict[str, Any] = {
    "amazon_order_id": "111-0000001-0000001",
    "seller_id": "A2SELLER",
    "version": 3,
    "purchase_date": "2026-11-26T10:00:00Z",
    "last_update_date": "2026-11-26T11:00:00Z",
    "order_status": "Unshipped",
    "order_total": {"amount": "19.99", "currency_code": "USD"},
    "items": [{"order_item_id": "1", "asin": "B000000001", "quantity_ordered": 2, "title": "x"}],
}
AD_ROW: dict[str, Any] = {
    "seller_id": "A2SELLER",
    "date": "2026-11-26",
    "campaign_id": "123",
    "asin": "B000000001",
    "clicks": 1,
    "spend": {"amount": "1.00", "currency_code": "USD"},
    "attributed_orders": 1,
    "attributed_sales": {"amount": "9.99", "currency_code": "USD"},
}


def _message(topic: str, event_type: str, data: dict[str, Any], **envelope: Any) -> Message:
    document = {
        "specversion": "1.0",
        "id": "7f1c8a52-2f39-4c1e-9a0e-1f3c0e6b2a11",
        "source": "outside",
        "type": event_type,
        "time": "2026-11-26T12:00:00Z",
        "subject": "111-0000001-0000001",
        "datacontenttype": "application/json",
        "dataschema": f"urn:orderflow:{topic}:{event_type}:1",
        "sellerid": "A2SELLER",
        "aggregateversion": 1,
        "data": data,
        **envelope,
    }
    return Message(topic, 0, 1, "111-0000001-0000001", json.dumps(document).encode())


def _with(data: dict[str, Any], path: tuple[Any, ...], value: Any) -> dict[str, Any]:
    changed = copy.deepcopy(data)
    target = changed
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = value
    return changed


HOSTILE_EVENTS = [
    (ORDER_CREATED, SNAPSHOT, ("items", 0, "title"), "mug\u0000"),
    (ORDER_CREATED, SNAPSHOT, ("items", 0, "title"), "x" * 501),
    (ORDER_CREATED, SNAPSHOT, ("items", 0, "asin"), "../../etc"),
    (ORDER_CREATED, SNAPSHOT, ("items", 0, "quantity_ordered"), 2**31),
    (ORDER_CREATED, SNAPSHOT, ("order_total", "amount"), "100000000000000000000.00"),
    (ORDER_CREATED, SNAPSHOT, ("seller_id"), "A2\u202eSELLER"),
    (ORDER_CREATED, SNAPSHOT, ("purchase_date",), "0001-01-01T00:00:00Z"),
    (AD_PERFORMANCE_REPORTED, AD_ROW, ("clicks",), 2**64),
    (AD_PERFORMANCE_REPORTED, AD_ROW, ("attributed_orders",), 2**31),
    (AD_PERFORMANCE_REPORTED, AD_ROW, ("spend", "amount"), "1e309"),
]


@pytest.mark.parametrize(("event_type", "data", "path", "value"), HOSTILE_EVENTS)
def test_an_event_that_breaks_the_policy_is_poison_when_decoded(
    event_type: str, data: dict[str, Any], path: Any, value: Any
) -> None:
    topic = "ads.v1" if event_type == AD_PERFORMANCE_REPORTED else "orders.v1"
    path = path if isinstance(path, tuple) else (path,)
    decode(_message(topic, event_type, data), {event_type})  # the event as it is: fine
    with pytest.raises(PoisonMessage):
        decode(_message(topic, event_type, _with(data, path, value)), {event_type})


@pytest.mark.parametrize(
    "envelope",
    [
        {"subject": "a\x00b"},
        {"sellerid": "x" * 40},
        {"correlationid": "a b"},
        {"aggregateversion": 2**63},
    ],
)
def test_an_envelope_that_breaks_the_policy_is_poison(envelope: dict[str, Any]) -> None:
    with pytest.raises(PoisonMessage):
        decode(_message("orders.v1", ORDER_CREATED, SNAPSHOT, **envelope), {ORDER_CREATED})


# ---- flat files ----------------------------------------------------------------------------
def test_a_flat_file_must_be_text_of_the_headers_shape() -> None:
    read = flatfile.read_rows
    rows = read(b"a\tb\n1\t2\n\n3\t\t\n", required=("a",), kind="a test file")
    assert rows == [(2, {"a": "1", "b": "2"}), (3, {"a": "3", "b": ""})]
    for content, words in [
        (b"", "empty"),
        (b"a\tb\n1\x002\n", r"U\+0000"),
        (b"a\tb\n\x07\t2\n", r"U\+0007"),
        (b"\xff\xfe\x00a", "control"),
        (b"a\tb\n1\t2\t3\n", "fields"),
        (b"b\tc\n1\t2\n", "missing columns a"),
        (b"a\n" + b"x" * 200_000 + b"\n", "field"),
    ]:
        with pytest.raises(flatfile.UnreadableFile, match=words):
            read(content, required=("a",), kind="a test file")
