"""The daily sales rollup the consumer keeps equals the rollup recomputed from the read models,
whatever sequence of events arrives (docs/adr/0055), on the session's real PostgreSQL.

Each seed draws a random sequence for a few orders: new versions that change status, amount,
currency, marketplace (so the day), items and the replacement flag; replays of older and equal
versions; fulfillment's cancels (new and stale). The records are applied in batches of random
sizes, together (one transaction, as the runner does) or one at a time; after every batch the
rollup table must be exactly the recomputation over every order.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator, Callable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import text

from analytics.adapters.daily_sales import contributions_sql
from analytics.adapters.repository import Reads
from analytics.bootstrap import SPEC
from shared import topics
from shared.db.migrations import upgrade_to_head
from shared.db.session import make_engine
from shared.events import fulfillment, orders
from shared.events.common import Money
from shared.events.orders import OrderItem, OrderSnapshot
from shared.messaging.decoding import Message
from tests.analytics.conftest import OTHER_SELLER, SELLER
from tests.analytics.factories import cancel
from tests.analytics.test_batched_apply_integration import Db, Records

pytestmark = pytest.mark.integration

# Purchases around midnight of the marketplaces' days, so a new marketplace moves the day.
T0 = datetime(2026, 6, 1, 6, 30, tzinfo=UTC)
PLACES = (("ATVPDKIKX0DER", "USD"), ("A1F83G8C2ARO7P", "GBP"), ("A1VC38T7YXB528", "JPY"))
STATUSES = ("Pending", "Unshipped", "Shipped", "Canceled")
ORDER_IDS = [f"111-0000000-{n:07d}" for n in range(6)]
FIGURES = "orders, units, revenue, canceled, replacements"
KEY = "seller_id, kind, day, currency_code, dim1, dim2"


@pytest.fixture
async def db(make_database: Callable[[str], str]) -> AsyncIterator[Db]:
    url = make_database("analytics_rollup")
    await asyncio.to_thread(upgrade_to_head, SPEC.migrations_dir, url)
    engine = make_engine(url, pool_size=2)
    yield Db(engine)
    await engine.dispose()


def _snapshot(rng: random.Random, oid: str, version: int, seller: str) -> OrderSnapshot:
    status = rng.choice(STATUSES)
    marketplace, currency = rng.choice(PLACES)
    if rng.random() < 0.15:
        marketplace = "A0UNKNOWNMARKET"  # no time zone or currency of its own: UTC, its total's
    priced = status != "Pending"
    items = []
    for n in range(rng.randint(1, 3)):
        quantity = rng.randint(1, 3)
        price = Money(amount=Decimal(rng.randint(100, 9999)) / 100, currency_code=currency)
        items.append(
            OrderItem(
                order_item_id=f"{oid}-{n}",
                asin=rng.choice(("B0MUG00001", "B0MUG00002", "B0CUP00003")),
                seller_sku=rng.choice(("MUG-BLUE", "MUG-RED", None)),
                quantity_ordered=quantity,
                item_price=price if priced else None,
            )
        )
    total = sum((i.item_price.amount for i in items if i.item_price), Decimal(0))
    purchased = T0 + timedelta(hours=rng.choice((-8, -1, 0, 1, 17, 30, 200)))
    return OrderSnapshot(
        amazon_order_id=oid,
        seller_id=seller,
        version=version,
        marketplace_id=marketplace,
        purchase_date=purchased,
        last_update_date=purchased + timedelta(minutes=version),
        order_status=status,  # type: ignore[arg-type]
        fulfillment_channel=rng.choice(("MFN", "AFN")),  # type: ignore[arg-type]
        order_total=Money(amount=total, currency_code=currency) if priced else None,
        is_replacement_order=rng.random() < 0.2,
        items=tuple(items),
    )


def _sequence(rng: random.Random, length: int) -> list[Message]:
    """Random records for the orders of ``ORDER_IDS`` (the last one another seller's)."""
    record = Records()
    sent: dict[str, list[OrderSnapshot]] = {}
    cancels: dict[str, int] = {}
    out = []
    for _ in range(length):
        oid = rng.choice(ORDER_IDS)
        seller = OTHER_SELLER if oid == ORDER_IDS[-1] else SELLER
        held = sent.get(oid, [])
        roll = rng.random()
        if held and roll < 0.2:  # a replay: an older or the same version, in a new event
            old = rng.choice(held)
            out.append(record(topics.ORDERS, orders.ORDER_UPDATED, old, version=old.version))
        elif held and roll < 0.35:  # fulfillment cancels it (or replays an older cancel)
            version = rng.choice((cancels.get(oid, 0) + 1, max(cancels.get(oid, 1) - 1, 1)))
            cancels[oid] = max(cancels.get(oid, 0), version)
            payload = cancel(held[-1], at=T0 + timedelta(days=1))
            out.append(
                record(
                    topics.FULFILLMENT,
                    fulfillment.ORDER_CANCELED,
                    payload,
                    version=version,
                    seller=seller,
                )
            )
        else:  # a newer version (sometimes skipping some)
            version = (held[-1].version if held else 0) + rng.randint(1, 3)
            order = _snapshot(rng, oid, version, seller)
            held.append(order)
            sent[oid] = held
            kind = orders.ORDER_UPDATED if len(held) > 1 else orders.ORDER_CREATED
            out.append(record(topics.ORDERS, kind, order, version=version, seller=seller))
    return out


async def _table(db: Db, sql: str) -> dict[tuple[Any, ...], tuple[Any, ...]]:
    async with db.engine.connect() as connection:
        rows = (await connection.execute(text(sql))).all()
    return {tuple(r[:6]): tuple(r[6:]) for r in rows if any(r[6:])}


async def _kept_and_recomputed(db: Db) -> tuple[dict[Any, Any], dict[Any, Any]]:
    kept = await _table(db, f"SELECT {KEY}, {FIGURES} FROM daily_sales")
    recomputed = await _table(db, contributions_sql("TRUE"))
    return kept, recomputed


@pytest.mark.parametrize("seed", range(6))
async def test_the_rollup_equals_its_recomputation_after_any_sequence(db: Db, seed: int) -> None:
    rng = random.Random(seed)
    records = _sequence(rng, 60)
    at, kinds = 0, set()
    while at < len(records):
        batch = records[at : at + rng.randint(1, 8)]
        at += len(batch)
        if rng.random() < 0.7:
            await db.together(batch)
        else:
            await db.one_by_one(batch)
        kept, recomputed = await _kept_and_recomputed(db)
        assert kept == recomputed, f"after record {at} of seed {seed}"
        kinds |= {k[1] for k in kept}
    assert kinds >= {"order", "sku", "asin", "items", "sku_asin"}  # the sequence sold


async def test_a_replayed_sequence_changes_nothing(db: Db) -> None:
    await db.together(_sequence(random.Random(99), 30))
    kept, _ = await _kept_and_recomputed(db)
    # The same payloads and versions again, in new events: every one stale or already held.
    await db.together(_sequence(random.Random(99), 30))
    assert (await _kept_and_recomputed(db))[0] == kept


@pytest.mark.parametrize("period", ["day", "week", None])
async def test_a_range_read_through_weeks_and_months_sums_its_days(
    db: Db, period: str | None
) -> None:
    """Whole weeks and months inside a range are read from their own rows, the days around
    them from the daily rows: the sums are those of the days alone."""
    await db.together(_sequence(random.Random(7), 80))
    rng = random.Random(period or "all")
    days = await _table(db, f"SELECT {KEY}, {FIGURES} FROM daily_sales WHERE kind = 'sku'")
    for _ in range(25):
        start = date(2026, 5, 1) + timedelta(days=rng.randint(0, 40))
        end = start + timedelta(days=rng.randint(0, 50))
        expected: dict[tuple[Any, ...], list[Any]] = {}
        for (seller, _, day, currency, dim1, dim2), figures in days.items():
            if seller == SELLER and start <= day <= end:
                at = {"day": day, "week": day - timedelta(days=day.weekday()), None: None}
                held = expected.setdefault((at[period], currency, dim1, dim2), [0] * 5)
                for n, value in enumerate(figures):
                    held[n] += value
        async with db.sessions() as session:
            rows = await Reads(session).daily_sales(SELLER, "sku", start, end, period)
        read = {(r.period, r.currency_code, r.dim1, r.dim2): list(r[4:]) for r in rows}
        assert read == {k: v for k, v in expected.items() if v[0] or v[3] or v[4]}, (start, end)
