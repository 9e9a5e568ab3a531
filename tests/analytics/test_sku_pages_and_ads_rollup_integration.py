"""Sales by SKU a page at a time, and the ads summary from the daily ads rollup (docs/adr/0060),
answer what the reads before them answered, on the session's real PostgreSQL.

A year of random orders (several marketplaces and currencies, an unknown marketplace, items
without a SKU, canceled and replacement orders, newer versions) and ad rows (restated, replayed,
without an ASIN or a SKU, several currencies, another seller's) is applied through the
consumer. The references are the reads as they were: the daily rows alone summed over the
range, and the ad rows themselves summed. Windows: whole months and weeks, their edges, single
days, a whole year, and random ones.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator, Callable, Sequence
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import text

from analytics.adapters import daily_ads
from analytics.adapters.repository import Reads
from analytics.bootstrap import SPEC
from analytics.service_layer import queries
from analytics.service_layer.unit_of_work import SqlUnitOfWork
from shared import topics
from shared.db.migrations import upgrade_to_head
from shared.db.session import make_engine
from shared.events import orders
from shared.events.ads import AD_PERFORMANCE_REPORTED, AdPerformance
from shared.events.common import Money
from shared.events.orders import OrderItem, OrderSnapshot
from shared.events.registry import build_event
from shared.messaging.decoding import Message
from tests.analytics.conftest import OTHER_SELLER, SELLER
from tests.analytics.test_batched_apply_integration import Db, Records

pytestmark = pytest.mark.integration

YEAR = date(2026, 1, 1)
PLACES = (
    ("ATVPDKIKX0DER", "USD"),
    ("A1F83G8C2ARO7P", "GBP"),
    ("A1VC38T7YXB528", "JPY"),
    ("A1PA6795UKMFR9", "EUR"),
)
ASINS = [f"B0TEST{n:04d}" for n in range(8)]
SKUS = [f"SKU-{n:02d}" for n in range(14)]
AD_FIGURES = ("attributed_orders", "spend", "attributed_sales", "clicks", "impressions")
THRESHOLD = Decimal("0.5")


@pytest.fixture
async def db(make_database: Callable[[str], str]) -> AsyncIterator[Db]:
    url = make_database("analytics_sku_ads")
    await asyncio.to_thread(upgrade_to_head, SPEC.migrations_dir, url)
    engine = make_engine(url, pool_size=2)
    yield Db(engine)
    await engine.dispose()


def _order(rng: random.Random, n: int, version: int) -> OrderSnapshot:
    oid = f"112-0000000-{n:07d}"
    seller = OTHER_SELLER if n % 9 == 0 else SELLER
    marketplace, currency = rng.choice(PLACES)
    if rng.random() < 0.05:
        marketplace = "A0UNKNOWNMARKET"
    status = rng.choices(("Shipped", "Unshipped", "Pending", "Canceled"), (70, 15, 5, 10))[0]
    priced = status != "Pending"
    items = []
    for k in range(rng.choice((1, 1, 2, 3))):
        quantity = rng.randint(1, 4)
        price = Money(amount=Decimal(rng.randint(100, 20000)) / 100, currency_code=currency)
        items.append(
            OrderItem(
                order_item_id=f"{oid}-{k}",
                asin=rng.choice(ASINS),
                seller_sku=rng.choice([*SKUS, None]),
                quantity_ordered=quantity,
                item_price=price if priced else None,
            )
        )
    total = sum((i.item_price.amount for i in items if i.item_price), Decimal(0))
    purchased = datetime.combine(YEAR, datetime.min.time(), UTC) + timedelta(
        hours=rng.randint(0, 366 * 24)
    )
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
        is_replacement_order=rng.random() < 0.03,
        items=tuple(items),
    )


def _orders(rng: random.Random, count: int) -> list[Message]:
    record = Records()
    out = []
    for n in range(count):
        versions = rng.choice((1, 1, 1, 2, 3))
        for version in range(1, versions + 1):
            order = _order(rng, n, version)
            kind = orders.ORDER_CREATED if version == 1 else orders.ORDER_UPDATED
            out.append(record(topics.ORDERS, kind, order, version=version, seller=order.seller_id))
    return out


class AdRecords:
    """ads.v1 records with the subject ingest gives them, growing offsets."""

    offset = -1

    def __call__(self, row: AdPerformance, version: int) -> Message:
        subject = f"{row.seller_id}:{row.date}:{row.campaign_id}:{row.asin or row.seller_sku}"
        event = build_event(
            topic=topics.ADS,
            event_type=AD_PERFORMANCE_REPORTED,
            payload=row,
            source="ingest",
            subject=subject,
            seller_id=row.seller_id,
            version=version,
        )
        self.offset += 1
        return Message(topics.ADS, 0, self.offset, subject, event.to_bytes())


def _ad(rng: random.Random, day: date, campaign: str, asin: str | None, sku: str | None) -> Any:
    marketplace, currency = rng.choice(PLACES)
    clicks = rng.randint(0, 90)

    def money(low: int, high: int) -> Money:
        return Money(amount=Decimal(rng.randint(low, high)) / 100, currency_code=currency)

    return AdPerformance(
        seller_id=OTHER_SELLER if campaign == "C9" else SELLER,
        date=day,
        marketplace_id=marketplace,
        campaign_id=campaign,
        asin=asin,
        seller_sku=sku,
        impressions=clicks * rng.randint(10, 60),
        clicks=clicks,
        spend=money(0, 9000),
        attributed_orders=rng.randint(0, 9),
        attributed_units=rng.randint(0, 12),
        attributed_sales=money(0, 40000),
    )


def _ads(rng: random.Random, count: int) -> list[Message]:
    """Ad rows over the year; some restated (newer versions, maybe another currency), some
    replayed (the same or an older version again)."""
    record = AdRecords()
    sent: list[tuple[Any, int]] = []
    out = []
    for _ in range(count):
        roll = rng.random()
        if sent and roll < 0.15:  # a replay: an older or the same version
            row, version = rng.choice(sent)
            out.append(record(row, version))
        elif sent and roll < 0.35:  # a restatement of a row held
            row, version = rng.choice(sent)
            again = _ad(rng, row.date, row.campaign_id, row.asin, row.seller_sku)
            sent.append((again, version + rng.randint(1, 2)))
            out.append(record(*sent[-1]))
        else:
            day = YEAR + timedelta(days=rng.randint(0, 365))
            asin = rng.choice([*ASINS, None])
            sku = rng.choice([*SKUS, None]) if asin else rng.choice(SKUS)
            row = _ad(rng, day, rng.choice(("C1", "C2", "C3", "C9")), asin, sku)
            sent.append((row, 1))
            out.append(record(row, 1))
    return out


async def _load(db: Db, rng: random.Random, messages: Sequence[Message]) -> None:
    at = 0
    while at < len(messages):
        batch = messages[at : at + rng.randint(1, 40)]
        at += len(batch)
        if rng.random() < 0.8:
            await db.together(batch)
        else:
            await db.one_by_one(batch)


# --- the reads as they were --------------------------------------------------------------------


class ReadsBefore(Reads):
    """The reads before the rollup of ad rows and the SKU pages: the daily rows alone, and the
    ad rows themselves."""

    async def daily_sales(
        self,
        seller_id: str | None,
        kind: str,
        start: date,
        end: date,
        period: str | None,
        dim1: Sequence[str] | None = None,
    ) -> list[Any]:
        # Every key, as before: the ads summary now asks for the SKU-to-ASIN map of the SKUs
        # it needs alone, which the whole map answers the same.
        column = {"day": "day", "week": "date_trunc('week', day)::date", None: "NULL::date"}
        stmt = text(
            f"""
SELECT {column[period]} AS period, currency_code, dim1, dim2, sum(orders) AS orders,
       sum(units) AS units, sum(revenue) AS revenue, sum(canceled) AS canceled,
       sum(replacements) AS replacements
FROM daily_sales WHERE kind = :kind AND day BETWEEN :start AND :end AND seller_id = :seller
GROUP BY 1, 2, 3, 4
HAVING sum(orders) > 0 OR sum(canceled) > 0 OR sum(replacements) > 0
"""
        )
        params = {"kind": kind, "start": start, "end": end, "seller": seller_id}
        return list((await self.session.execute(stmt, params)).all())

    async def ad_totals(self, seller_id: str | None, start: date, end: date) -> list[Any]:
        stmt = text(
            f"""
SELECT asin, seller_sku, currency_code, {", ".join(f"sum({f}) AS {f}" for f in AD_FIGURES)}
FROM ad_performance WHERE date >= :start AND date <= :end AND seller_id = :seller
GROUP BY 1, 2, 3
"""
        )
        params = {"start": start, "end": end, "seller": seller_id}
        return list((await self.session.execute(stmt, params)).all())


def _windows(rng: random.Random) -> list[tuple[date, date]]:
    fixed = [
        (date(2026, 1, 1), date(2026, 12, 31)),  # the whole year: twelve whole months
        (date(2026, 1, 1), date(2027, 1, 1)),  # 366 days, the most a range covers
        (date(2026, 1, 31), date(2026, 2, 1)),  # across a month's edge
        (date(2026, 3, 1), date(2026, 3, 31)),  # one whole month
        (date(2026, 3, 2), date(2026, 3, 8)),  # one whole ISO week (Monday to Sunday)
        (date(2026, 3, 3), date(2026, 3, 9)),  # seven days across two weeks
        (date(2026, 2, 28), date(2026, 4, 1)),  # a whole month and a day each side
        (date(2026, 6, 15), date(2026, 6, 15)),  # one day
        (date(2025, 12, 20), date(2026, 1, 10)),  # before the history
        (date(2026, 5, 4), date(2026, 11, 29)),  # Monday to Sunday over months
    ]
    random_ones = []
    for _ in range(14):
        start = YEAR - timedelta(days=10) + timedelta(days=rng.randint(0, 380))
        random_ones.append((start, start + timedelta(days=rng.randint(0, 365))))
    return fixed + random_ones


async def _ads_summary(reads: Reads, start: date, end: date, group_by: str) -> dict[str, Any]:
    return await queries._ads_summary(reads, SELLER, start, end, group_by, THRESHOLD)


# --- the tests ---------------------------------------------------------------------------------


async def _rollup_and_recomputation(db: Db) -> tuple[dict[Any, Any], dict[Any, Any]]:
    columns = ", ".join(daily_ads.KEY + daily_ads.FIGURES)
    async with db.engine.connect() as connection:
        kept = (await connection.execute(text(f"SELECT {columns} FROM daily_ads"))).all()
        again = (await connection.execute(text(daily_ads.contributions_sql("TRUE")))).all()

    def table(rows: Sequence[Any]) -> dict[Any, Any]:
        return {tuple(r[:6]): tuple(r[6:]) for r in rows if any(r[6:])}

    return table(kept), table(again)


@pytest.mark.parametrize("seed", range(3))
async def test_the_ads_rollup_equals_its_recomputation_after_any_sequence(
    db: Db, seed: int
) -> None:
    rng = random.Random(seed)
    records = _ads(rng, 160)
    at = 0
    while at < len(records):
        batch = records[at : at + rng.randint(1, 12)]
        at += len(batch)
        if rng.random() < 0.7:
            await db.together(batch)
        else:
            await db.one_by_one(batch)
        kept, recomputed = await _rollup_and_recomputation(db)
        assert kept == recomputed, f"after record {at} of seed {seed}"
    assert {k[1] for k in kept} == {"ad", "ad/week", "ad/month"}
    # The same records again: every one stale or already held, so nothing moves.
    await db.together(records)
    assert (await _rollup_and_recomputation(db))[0] == kept


async def test_the_ads_summary_answers_what_the_ad_rows_summed_answered(db: Db) -> None:
    rng = random.Random(11)
    await _load(db, rng, _orders(rng, 500))
    await _load(db, rng, _ads(rng, 700))
    compared = 0
    async with db.sessions() as session:
        for start, end in _windows(rng):
            for group_by in ("asin", "none"):
                now = await _ads_summary(Reads(session), start, end, group_by)
                before = await _ads_summary(ReadsBefore(session), start, end, group_by)
                assert now == before, (start, end, group_by)
                compared += len(now["items"])
    assert compared > 500  # the windows held ads and orders of many ASINs and currencies


async def _sales_pages(
    db: Db, start: date, end: date, granularity: str, limit: int
) -> list[dict[str, Any]]:
    """Every page of sales by SKU, following next_cursor as a client does."""
    pages: list[dict[str, Any]] = []
    after = None
    uow = SqlUnitOfWork(db.sessions, topic=None)
    while True:
        page = await queries.sales(
            uow,
            seller_id=SELLER,
            start=start,
            end=end,
            granularity=granularity,
            group_by="sku",
            page=queries.SkuPage(limit, after),
        )
        pages.append(page)
        if not page["more"]:
            return pages
        last = page["items"][-1]
        after = (last["units"], last["orders"], last["sku"], last["currency_code"])


async def test_sales_by_sku_pages_hold_what_the_whole_report_held(db: Db) -> None:
    rng = random.Random(5)
    await _load(db, rng, _orders(rng, 600))
    seen = 0
    for start, end in _windows(rng)[:16]:
        granularity = rng.choice(("day", "week"))
        async with db.sessions() as session:
            reads = ReadsBefore(session)
            before = await queries._sales(
                reads, SELLER, start, end, granularity, "none", queries.SkuPage(1)
            )
            # The series by SKU as the report gave it: every SKU of the range.
            rows = await reads.daily_sales(SELLER, "sku", start, end, granularity)
        before["series"] = [
            {
                "period": r.period,
                "group": r.dim1,
                "currency_code": r.currency_code,
                "orders": int(r.orders),
                "units": int(r.units),
                "revenue": queries.money(r.revenue),
            }
            for r in rows
        ]
        # The report as it was: every SKU's series; summed here by SKU and currency.
        expected: dict[tuple[str, str], list[Any]] = {}
        for point in before["series"]:
            held = expected.setdefault((point["group"], point["currency_code"]), [0, 0, 0])
            held[0] += point["orders"]
            held[1] += point["units"]
            held[2] += Decimal(point["revenue"])
        ranked = sorted(expected.items(), key=lambda kv: (-kv[1][1], -kv[1][0], *kv[0]))

        pages = await _sales_pages(db, start, end, granularity, rng.choice((1, 3, 7, 50)))
        items = [i for p in pages for i in p["items"]]
        assert [
            ((i["sku"], i["currency_code"]), [i["orders"], i["units"], Decimal(i["revenue"])])
            for i in items
        ] == [(k, v) for k, v in ranked], (start, end)
        # Each page's series: the series of its SKUs, as the whole report gave them.
        series = [point for p in pages for point in p["series"]]
        assert sorted(series, key=str) == sorted(before["series"], key=str), (start, end)
        for page in pages:
            listed = {(i["sku"], i["currency_code"]) for i in page["items"]}
            assert {(s["group"], s["currency_code"]) for s in page["series"]} == listed
            for field in ("totals", "canceled_orders", "replacement_orders"):
                assert page[field] == before[field]
        seen += len(items)
    assert seen > 300
