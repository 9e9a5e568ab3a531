"""The bytes intake writes to the outbox for an accepted order are the event contract: each is
compared with what the reference path makes of the same order (validate the snapshot as
``OrderSnapshot``, build the envelope with ``build_event``, dump it whole), byte for byte, for
orders of every kind: FBA and FBM, many lines, unicode, every marketplace's currency, both
Amazon shapes, every field at its edge, created and updated, with and without an actor and a
correlation id. The orders row keeps the same snapshot. See
docs/adr/0058-ingest-validates-and-serialises-once.md."""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import orjson
import pydantic_core
import pytest
from cryptography.fernet import Fernet

from ingest.intake.adapters.outbox import OrderEvents
from ingest.intake.domain import commands
from ingest.intake.domain.model import IncomingOrder
from ingest.intake.service_layer import handlers
from ingest.intake.service_layer.shapes import read_order
from orderflow_testkit.samples import amazon_order
from shared import audit, topics
from shared.events.common import EncryptedPII
from shared.events.orders import ORDER_CREATED, ORDER_UPDATED, OrderSnapshot
from shared.events.registry import build_event
from shared.marketplaces import MARKETPLACES
from shared.pii import PIICipher
from tests.e2e.hostile_bodies import edge_v0_order, edge_v2026_order, longest, v0_order
from tests.e2e.hostile_bodies import v2026_order as full_v2026_order
from tests.ingest.fakes import FakeDatabase, FakeIntakeUnitOfWork

pytestmark = pytest.mark.unit

PII = PIICipher(Fernet.generate_key().decode())
SELLER = "A2SELLER1EXAMPLE"
T0 = datetime(2026, 11, 20, 10, 0, 0, tzinfo=UTC)


def _item(n: int, currency: str = "USD", **over: Any) -> dict[str, Any]:
    money = {"CurrencyCode": currency, "Amount": f"{n}.5"}
    return {
        "ASIN": f"B0{n:08d}",
        "OrderItemId": f"4660236{n:07d}",
        "SellerSKU": f"SKU-{n}",
        "Title": f"Item {n}",
        "QuantityOrdered": n,
        "QuantityShipped": n - 1,
        "ItemPrice": money,
        "ItemTax": {"CurrencyCode": currency, "Amount": "0.0100"},
        "ShippingPrice": {"CurrencyCode": currency, "Amount": "0"},
        "PromotionDiscount": {"CurrencyCode": currency, "Amount": "1.990"},
        "IsGift": n % 2 == 0,
        "ConditionId": "New",
        **over,
    }


def _unicode() -> dict[str, Any]:
    order = amazon_order(
        SalesChannel="Amazon.co.jp",
        ShipServiceLevel="Std JP Kanto-Ken 配送",
        SellerOrderId="注文-é😀",
    )
    order["BuyerInfo"] |= {"BuyerName": "Zoë Ågren 山田 😀"}
    order["ShippingAddress"] |= {"City": "Düsseldorf", "StateOrRegion": "Île-de-France ✓"}
    order["OrderItems"] = [
        _item(1, Title="Tasse ☕ « bleue » — 漢字 \U0001f600 \\ \" ' / <b>&amp;</b>"),
        _item(2, Title=longest(500), SellerSKU=longest(255)),
    ]
    return order


def _marketplace(marketplace_id: str, currency: str) -> dict[str, Any]:
    amount = "1980" if currency == "JPY" else "1234.56"
    order = amazon_order(MarketplaceId=marketplace_id)
    order["OrderTotal"] = {"CurrencyCode": currency, "Amount": amount}
    order["OrderItems"] = [_item(1, currency), _item(3, currency)]
    return order


def _v2026(**over: Any) -> dict[str, Any]:
    order = full_v2026_order()
    order.update(over)
    return order


def documents() -> Iterator[tuple[str, dict[str, Any]]]:
    yield "fbm", amazon_order(channel="MFN")
    yield "fba shipped", amazon_order(channel="AFN", status="Shipped", IsPrime=True)
    yield "pending without items or buyer", amazon_order(status="Pending")
    yield (
        "canceled by the buyer",
        amazon_order(
            status="Canceled",
            items=[
                _item(
                    1,
                    BuyerRequestedCancel={
                        "IsBuyerRequestedCancel": True,
                        "BuyerCancelReason": "Found it cheaper",
                    },
                )
            ],
        ),
    )
    yield "many lines", amazon_order(items=[_item(n) for n in range(1, 13)])
    yield "unicode", _unicode()
    yield (
        "moments with offsets and fractions",
        amazon_order(
            PurchaseDate="2026-11-20T10:00:00.123+05:30",
            LastUpdateDate="2026-11-20T10:00:01.000001-08:00",
            EarliestShipDate="2026-11-20T10:00:00+00:00",
        ),
    )
    yield "every v0 field", v0_order()
    yield "every field at its edge (v0)", edge_v0_order(items=3)
    yield "v2026", full_v2026_order()
    yield "v2026 FBA preorder", _v2026(programs=["PREORDER", "PRIME", "AMAZON_BUSINESS"])
    yield "every field at its edge (v2026)", edge_v2026_order()
    for marketplace in MARKETPLACES.values():
        yield (
            f"{marketplace.country_code} {marketplace.currency_code}",
            _marketplace(marketplace.marketplace_id, marketplace.currency_code),
        )


CASES = list(documents())


def _parsed(document: dict[str, Any]) -> IncomingOrder:
    parsed = read_order(document)
    assert isinstance(parsed, IncomingOrder), parsed
    return parsed


async def _accept(
    db: FakeDatabase,
    orders: list[IncomingOrder],
    *,
    source: str = "api",
    correlation_id: str | None = None,
) -> list[handlers.Accepted | Any]:
    command = commands.AcceptOrders(
        seller_id=SELLER, entries=orders, source=source, correlation_id=correlation_id
    )
    async with FakeIntakeUnitOfWork(db) as uow:
        outcomes = await handlers.accept_orders(uow, command=command, pii=PII, topic="orders.v1")
        await uow.commit()
    return outcomes


def reference(
    order: IncomingOrder,
    written: bytes,
    *,
    version: int,
    source: str = "api",
    correlation_id: str | None = None,
) -> bytes:
    """The bytes the reference path makes of ``order``: its snapshot validated whole, the
    envelope built around the snapshot's dump and dumped whole. The event's id and time, and
    the sealed PII (a fresh nonce each time), are taken from what was written."""
    document = orjson.loads(written)
    snapshot = OrderSnapshot.model_validate(
        {
            **order.fields,
            "seller_id": SELLER,
            "version": version,
            "buyer_pii": document["data"]["buyer_pii"],
            "intake_source": source,
        }
    )
    event = build_event(
        topic=topics.ORDERS,
        event_type=ORDER_CREATED if version == 1 else ORDER_UPDATED,
        payload=snapshot,
        source="ingest",
        subject=order.amazon_order_id,
        seller_id=SELLER,
        version=version,
        correlation_id=correlation_id,
    )
    same_moment = {
        "id": uuid.UUID(document["id"]),
        "time": datetime.fromisoformat(document["time"]),
    }
    return event.model_copy(update=same_moment).to_bytes()


def _check_pii(order: IncomingOrder, written: bytes) -> None:
    sealed = orjson.loads(written)["data"]["buyer_pii"]
    if order.pii is None:
        assert sealed is None
    else:
        assert PII.open(EncryptedPII(**sealed)) == orjson.loads(orjson.dumps(order.pii))


@pytest.mark.parametrize(("name", "document"), CASES, ids=[name for name, _ in CASES])
async def test_a_new_orders_bytes_are_the_reference_paths(
    name: str, document: dict[str, Any]
) -> None:
    db = FakeDatabase()
    order = _parsed(document)
    [outcome] = await _accept(db, [order])
    assert isinstance(outcome, handlers.Accepted)
    [(topic, written)] = db.written
    assert topic == "orders.v1"
    assert written == reference(order, written, version=1)
    _check_pii(order, written)
    stored = db.tables.orders[order.amazon_order_id]["snapshot"]
    assert stored == orjson.loads(written)["data"]


async def test_a_batch_of_every_kind_is_the_reference_paths_bytes_in_order() -> None:
    db = FakeDatabase()
    orders = [_parsed(document) for _, document in CASES]
    assert len({o.amazon_order_id for o in orders}) == len(orders)
    outcomes = await _accept(db, orders, source="batch", correlation_id="corr-1.a:b_c")
    assert all(isinstance(o, handlers.Accepted) for o in outcomes)
    assert len(db.written) == len(orders)
    for order, (_, written) in zip(orders, db.written, strict=True):
        assert written == reference(
            order, written, version=1, source="batch", correlation_id="corr-1.a:b_c"
        )


async def test_updates_keep_the_reference_bytes_and_the_stored_pii() -> None:
    """A newer state with buyer PII, then one without (the stored sealed PII is carried over),
    then an older one: two updates written, as the reference path writes them."""
    db = FakeDatabase()
    first = amazon_order(purchased=T0, updated=T0)
    await _accept(db, [_parsed(first)])
    newer = _parsed(first | {"LastUpdateDate": (T0 + timedelta(hours=1)).isoformat()})
    without_pii = {k: v for k, v in first.items() if k not in ("BuyerInfo", "ShippingAddress")} | {
        "LastUpdateDate": (T0 + timedelta(hours=2)).isoformat(),
        "OrderStatus": "Shipped",
    }
    newest = _parsed(without_pii)
    assert newest.pii is None
    outcomes = await _accept(db, [newer, newest], correlation_id="c-2")
    assert [o.version for o in outcomes if isinstance(o, handlers.Accepted)] == [2, 3]
    [_, (_, second), (_, third)] = db.written
    assert second == reference(newer, second, version=2, correlation_id="c-2")
    assert third == reference(newest, third, version=3, correlation_id="c-2")
    assert orjson.loads(third)["data"]["buyer_pii"] == orjson.loads(second)["data"]["buyer_pii"]
    _check_pii(newer, third)


async def test_an_api_changes_events_name_the_actor_as_the_reference_path_does() -> None:
    principal = SimpleNamespace(key_name="seller-key.1", role="seller", seller_id=SELLER)
    change = audit.Change(scope={"state": {"principal": principal}}, engine=None, table=None)  # type: ignore[arg-type]
    db = FakeDatabase()
    order = _parsed(amazon_order())
    token = audit.begin(change)
    try:
        await _accept(db, [order])
        [(_, written)] = db.written
        expected = reference(order, written, version=1)
    finally:
        audit.end(token)
    assert b'"actorkey":"seller-key.1"' in written
    assert written == expected


# -- what is not validated again was validated on the way in -----------------------------------

_ALPHABETS = (
    "abcXYZ019 -._/'\"\\<>&",
    "éßÿÅøœ€£¥",
    "漢字かなカナ한글",
    "😀☕🚚\U0001f9ea",
    "\u0301\u0308\u0130\ufb03\u1e9e",  # combining marks, and letters case mapping lengthens
    "\t\u00a0\u2028\u200b\x00\x7f\u202e",  # refused, or stripped at the ends
)


def _text(rng: random.Random, limit: int) -> str:
    """Mostly within the policy; now and then a refused character or one too many."""
    alphabets = _ALPHABETS if rng.random() < 0.04 else _ALPHABETS[:-1]
    alphabet = "".join(rng.sample(alphabets, rng.randint(1, 3)))
    length = rng.choice([0, 1, rng.randint(1, limit), limit])
    length += rng.random() < 0.02
    return "".join(rng.choice(alphabet) for _ in range(length))


def _pick(rng: random.Random, good: list[Any], bad: list[Any]) -> Any:
    return rng.choice(bad if rng.random() < 0.03 else good)


def _amount(rng: random.Random) -> Any:
    if rng.random() < 0.05:
        return rng.choice(["-1.00", "1e3", "1.00001", 10**14, "NaN"])
    return rng.choice(
        [
            f"{rng.randint(0, 10**14 - 1)}",
            f"{rng.randint(0, 10**6)}.{rng.randint(0, 9999):0{rng.randint(1, 4)}d}",
            rng.randint(0, 10**9),
            " 2.50 ",
            "0.10000",
            "99999999999999.9999",
        ]
    )


def _moment(rng: random.Random) -> str:
    at = datetime(1969, 12, 31, tzinfo=UTC) + timedelta(seconds=rng.randint(0, 4_200_000_000))
    at += timedelta(microseconds=rng.choice([0, rng.randint(0, 999_999)]))
    offset = rng.choice(["Z", "+00:00", "+05:30", "-08:00", "+14:00", "-00:30"])
    return at.strftime("%Y-%m-%dT%H:%M:%S.%f").removesuffix(".000000") + offset


def _random_v0(rng: random.Random) -> dict[str, Any]:
    def money() -> dict[str, Any]:
        currency = _pick(rng, ["USD", "JPY", "EUR"], ["usd", "EURO"])
        return {"CurrencyCode": currency, "Amount": _amount(rng)}

    order = amazon_order(
        status=rng.choice(["Unshipped", "Shipped", "Canceled", "Pending", "PartiallyShipped"]),
        channel=rng.choice(["AFN", "MFN"]),
    )
    order |= {
        "PurchaseDate": _moment(rng),
        "LastUpdateDate": _moment(rng),
        "LatestShipDate": _moment(rng),
        "SellerOrderId": _text(rng, 64),
        "SalesChannel": _text(rng, 100),
        "ShipServiceLevel": _text(rng, 100),
        "NumberOfItemsShipped": _pick(rng, [0, 7, 2**31 - 1], [2**31, -1]),
        "OrderTotal": money(),
        "IsPrime": rng.random() < 0.5,
    }
    order["BuyerInfo"] = {"BuyerName": _text(rng, 50), "BuyerEmail": _text(rng, 64)}
    order["ShippingAddress"] = {
        "City": _text(rng, 50),
        "StateOrRegion": _text(rng, 150),
        "PostalCode": _text(rng, 20),
        "CountryCode": _pick(rng, ["US", "DE", "JP"], ["us", "USA"]),
    }
    order["OrderItems"] = [
        {
            "ASIN": f"B0{n:08d}",
            "OrderItemId": f"{n}-{rng.randint(0, 10**9)}",
            "SellerSKU": _text(rng, 255),
            "Title": _text(rng, 500),
            "QuantityOrdered": _pick(rng, [0, 1, 100_000], [100_001, -1]),
            "ItemPrice": money(),
            "PromotionDiscount": money(),
            "ConditionId": _text(rng, 100),
            "BuyerRequestedCancel": {
                "IsBuyerRequestedCancel": rng.random() < 0.3,
                "BuyerCancelReason": _text(rng, 500),
            },
        }
        for n in range(rng.randint(0, 4))
    ]
    return order


def _random_v2026(rng: random.Random) -> dict[str, Any]:
    order = full_v2026_order()
    order |= {"createdTime": _moment(rng), "lastUpdatedTime": _moment(rng)}
    order["orderAliases"][0]["aliasId"] = _text(rng, 64)
    order["salesChannel"]["marketplaceName"] = _text(rng, 100)
    order["fulfillment"]["fulfillmentServiceLevel"] = rng.choice(["STANDARD", _text(rng, 100)])
    [item] = order["orderItems"]
    item["quantityOrdered"] = rng.choice([1, 3, 100_000])
    item["product"]["title"] = _text(rng, 500)
    item["product"]["condition"]["conditionType"] = _text(rng, 50)
    item["product"]["price"] = {"unitPrice": {"amount": _amount(rng), "currencyCode": "USD"}}
    item.pop("proceeds", None)
    return order


def test_every_order_the_intake_accepts_passes_the_snapshots_validation_unchanged() -> None:
    """Hundreds of orders of random text (every script, refused characters, the limits and one
    past), amounts, moments and counters: the snapshot of each one the Amazon shape accepts
    is what validating it as ``OrderSnapshot`` gives, value for value. So validating the
    snapshot again could refuse nothing, nor change anything."""
    rng = random.Random(58)
    accepted = 0
    for n in range(600):
        document = _random_v2026(rng) if n % 3 == 0 else _random_v0(rng)
        order = read_order(document)
        if not isinstance(order, IncomingOrder):
            continue
        accepted += 1
        context = handlers._Context(
            SELLER, "api", PII, "orders.v1", OrderEvents(seller_id=SELLER, correlation_id=None)
        )
        snapshot = handlers._snapshot(order, context, 1, None)
        validated = OrderSnapshot.model_validate(snapshot)
        assert pydantic_core.to_json(snapshot) == validated.__pydantic_serializer__.to_json(
            validated
        ), document
    assert accepted > 150  # enough of them got through to say something
