"""The account-health counts PostgreSQL returns (``Reads.health_counts``), on rows written
straight into the read-model tables of a migrated database and the health rollup then rebuilt
from them (``adapters.health_orders``, as the migration's backfill does): each counting rule,
the edges of the windows, the merge of what the four tables say about one order, and sellers
kept apart.

Every test writes in one transaction that is rolled back afterwards.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import delete, insert, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from analytics.adapters import health_days, health_orders, orm
from analytics.adapters.repository import Reads
from analytics.bootstrap import SPEC
from analytics.domain.metrics import DeliveryCounts, HealthCounts, Ratio
from analytics.service_layer.queries import HISTORY
from shared.db.migrations import upgrade_to_head
from shared.db.session import make_engine
from tests.analytics.conftest import OTHER_SELLER, SELLER

pytestmark = pytest.mark.integration

NOW = datetime(2026, 6, 30, 12, tzinfo=UTC)
D = timedelta(days=1)
S = timedelta(seconds=1)
NO_KINDS = {"a_to_z": 0, "chargeback": 0, "negative_feedback": 0}


class Rows:
    """Read-model rows as the projections leave them; a seller's counts as the SQL answers."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def _add(self, table: Any, **values: Any) -> None:
        await self.session.execute(insert(table).values(version=1, **values))

    async def order(
        self,
        oid: str,
        *,
        purchased: datetime = NOW - 2 * D,
        channel: str | None = "MFN",
        status: str = "Unshipped",
        latest_ship: datetime | None = None,
        buyer_requested: bool = False,
        seller: str = SELLER,
    ) -> None:
        await self._add(
            orm.orders,
            amazon_order_id=oid,
            seller_id=seller,
            fulfillment_channel=channel,
            order_status=status,
            purchase_date=purchased,
            last_update_date=purchased,
            latest_ship_date=latest_ship,
            is_buyer_requested_cancel=buyer_requested,
        )

    async def fulfillment(
        self,
        oid: str,
        *,
        channel: str | None = "MFN",
        purchased: datetime | None = None,
        latest_ship: datetime | None = None,
        canceled_by: str | None = None,
        buyer_requested: bool | None = None,
        ship_late: bool = False,
        seller: str = SELLER,
    ) -> None:
        await self._add(
            orm.fulfillment_orders,
            amazon_order_id=oid,
            seller_id=seller,
            fulfillment_channel=channel,
            purchase_date=purchased,
            latest_ship_date=latest_ship,
            canceled_at=NOW - D if canceled_by else None,
            canceled_by=canceled_by,
            cancel_buyer_requested=buyer_requested,
            ship_late_at=NOW - D if ship_late else None,
        )

    async def shipment(
        self,
        oid: str,
        *,
        shipped: datetime,
        on_time: bool = True,
        valid: bool = True,
        channel: str | None = "MFN",
        latest_ship: datetime | None = None,
        promised: datetime | None = None,
        scanned: datetime | None = None,
        delivered: datetime | None = None,
        sid: str | None = None,
        seller: str = SELLER,
    ) -> None:
        await self._add(
            orm.shipments,
            latest_delivery_date=promised,
            first_scan_at=scanned,
            delivered_at=delivered,
            shipment_id=sid or f"shp-{oid}",
            amazon_order_id=oid,
            seller_id=seller,
            fulfillment_channel=channel,
            ship_date=shipped,
            latest_ship_date=latest_ship,
            on_time=on_time,
            valid_tracking=valid,
            carrier_code="UPS",
        )

    async def case(
        self,
        oid: str,
        *,
        kind: str = "a_to_z",
        counts: bool = True,
        channel: str | None = "MFN",
        purchased: datetime | None = NOW - 2 * D,
        cid: str | None = None,
        seller: str = SELLER,
    ) -> None:
        await self._add(
            orm.defect_cases,
            case_id=cid or f"{kind}-{oid}",
            kind=kind,
            amazon_order_id=oid,
            seller_id=seller,
            fulfillment_channel=channel,
            order_purchase_date=purchased,
            counts_toward_odr=counts,
            odr_rule="rule" if counts else "not_counted",
            status="decided",
        )

    async def counts(self, seller: str = SELLER, as_of: datetime = NOW) -> HealthCounts:
        await self.session.execute(delete(orm.health_orders))
        await self.session.execute(text(health_orders.BACKFILL))
        await self.session.execute(delete(orm.health_days))
        await self.session.execute(text(health_days.BACKFILL))
        return await Reads(self.session).health_counts(seller, as_of=as_of)


@pytest.fixture(scope="module")
async def engine(make_database: Callable[[str], str]) -> AsyncIterator[AsyncEngine]:
    url = make_database("analytics_health")
    await asyncio.to_thread(upgrade_to_head, SPEC.migrations_dir, url)
    engine = make_engine(url, pool_size=1)
    yield engine
    await engine.dispose()


@pytest.fixture
async def rows(engine: AsyncEngine) -> AsyncIterator[Rows]:
    async with engine.connect() as connection:
        transaction = await connection.begin()
        try:
            async with AsyncSession(bind=connection) as session:
                yield Rows(session)
        finally:
            await transaction.rollback()


async def test_odr_counts_an_order_once_and_under_each_of_its_kinds(rows: Rows) -> None:
    for oid in "abcdefg":
        await rows.order(oid, channel="AFN" if oid == "f" else "MFN")
    await rows.case("a", kind="a_to_z")
    await rows.case("a", kind="negative_feedback")
    await rows.case("b", kind="chargeback")
    await rows.case("c", kind="a_to_z", counts=False)  # d: no case at all
    await rows.order("e-old", purchased=NOW - 61 * D)
    await rows.case("e-old")
    await rows.case("f")  # AFN
    await rows.case("g", cid="claim-1")
    await rows.case("g", cid="claim-2")  # two A-to-z claims: one order, one a_to_z
    counts = await rows.counts()
    assert counts.odr == {"MFN": Ratio(3, 6), "AFN": Ratio(1, 1)}
    assert counts.odr_by_kind["MFN"] == {"a_to_z": 2, "chargeback": 1, "negative_feedback": 1}
    assert counts.odr_by_kind["AFN"] == {**NO_KINDS, "a_to_z": 1}


async def test_window_edges_are_included(rows: Rows) -> None:
    # ODR, 60 days by purchase date: both ends in, a second beyond either end out
    for oid, purchased in [
        ("start", NOW - 60 * D),
        ("before", NOW - 60 * D - S),
        ("end", NOW),
        ("after", NOW + S),
    ]:
        await rows.order(oid, purchased=purchased)
        await rows.case(oid)
    # pre-fulfillment cancels, 7 days by purchase date
    for oid, purchased in [("c-start", NOW - 7 * D), ("c-before", NOW - 7 * D - S)]:
        await rows.order(oid, purchased=purchased)
        await rows.fulfillment(oid, canceled_by="seller")
    # late shipments, 10 and 30 days by latest_ship_date (purchased out of the other windows)
    for oid, ship_by in [("l-start", NOW - 10 * D), ("l-before", NOW - 10 * D - S), ("l-end", NOW)]:
        await rows.order(oid, purchased=NOW - 70 * D, latest_ship=ship_by)
        await rows.fulfillment(oid, ship_late=True)
    counts = await rows.counts()
    assert counts.odr["MFN"] == Ratio(2, 4)  # start, end / start, end, c-start, c-before
    assert counts.pre_fulfillment_cancel == Ratio(1, 2)  # c-start / end, c-start
    assert counts.late_shipment == {10: Ratio(2, 2), 30: Ratio(3, 3)}


async def test_late_shipment_rate_uses_ship_by_date_and_skips_unshipped_cancels(
    rows: Rows,
) -> None:
    async def order(oid: str, ship_by: datetime | None, **kw: Any) -> None:
        await rows.order(oid, purchased=NOW - 12 * D, latest_ship=ship_by, **kw)

    await order("late", NOW - 3 * D)
    await rows.shipment("late", shipped=NOW - 2 * D, on_time=False)
    await order("ok", NOW - 3 * D)
    await rows.shipment("ok", shipped=NOW - 3 * D)
    await order("flagged", NOW - D)
    await rows.fulfillment("flagged", ship_late=True)
    await order("canceled", NOW - D)  # canceled before shipping: not due
    await rows.fulfillment("canceled", canceled_by="seller")
    await order("canceled-on-order", NOW - D, status="Canceled")  # orders.v1 only: not due
    await order("shipped-canceled", NOW - 2 * D)  # canceled after shipping: due, on time
    await rows.fulfillment("shipped-canceled", canceled_by="seller")
    await rows.shipment("shipped-canceled", shipped=NOW - 2 * D)
    await order("no-ship-by", None)  # the first ship date stands in for latest_ship_date
    await rows.shipment("no-ship-by", shipped=NOW - 5 * D, on_time=False)
    await order("shipped-early", None)  # its first shipment is out of both windows
    await rows.shipment("shipped-early", shipped=NOW - 5 * D, on_time=False)
    await rows.shipment("shipped-early", shipped=NOW - 40 * D, sid="early")
    await order("old", NOW - 11 * D)
    await rows.fulfillment("old", ship_late=True)
    await order("fba", NOW - D, channel="AFN")
    await rows.shipment("fba", shipped=NOW, on_time=False, channel="AFN")
    counts = await rows.counts()
    assert counts.late_shipment == {10: Ratio(3, 5), 30: Ratio(4, 6)}


async def test_cancel_rate_excludes_buyer_requested_and_counts_amazon_auto_cancels(
    rows: Rows,
) -> None:
    cancels: list[tuple[str, str | None, bool | None]] = [
        ("seller", "seller", None),
        ("amazon", "amazon", False),
        ("buyer", "buyer", True),
        ("asked", "seller", True),  # the seller canceled at the buyer's request
    ]
    for oid, by, asked in cancels:
        await rows.order(oid)
        await rows.fulfillment(oid, canceled_by=by, buyer_requested=asked)
    await rows.order("asked-on-order", buyer_requested=True)  # orders.v1 says buyer-requested
    await rows.fulfillment("asked-on-order", canceled_by="seller")
    await rows.order("kept")
    await rows.order("shipped", status="Shipped")  # canceled after shipping
    await rows.fulfillment("shipped", canceled_by="seller")
    await rows.shipment("shipped", shipped=NOW - D)
    await rows.order("old", purchased=NOW - 8 * D)
    await rows.fulfillment("old", canceled_by="seller")
    await rows.order("fba", channel="AFN")
    await rows.fulfillment("fba", channel="AFN", canceled_by="seller")
    await rows.order("unknown", status="Canceled")  # orders.v1 only: who canceled is unknown
    counts = await rows.counts()
    assert counts.pre_fulfillment_cancel == Ratio(2, 8)


async def test_an_order_known_from_one_source_and_the_precedence_of_sources(rows: Rows) -> None:
    # only a defect case: channel and purchase date are the case's
    await rows.case("case-only", purchased=NOW - 3 * D)
    # only fulfillment's row: channel, purchase date and the cancel are its own
    await rows.fulfillment("fulfillment-only", purchased=NOW - 2 * D, canceled_by="seller")
    # only a shipment: channel and latest_ship_date are the shipment's (no purchase date)
    await rows.shipment("shipment-only", shipped=NOW, on_time=False, latest_ship=NOW - D)
    # the order's channel wins over every other source (its MFN shipment is no MFN shipment)
    await rows.order("order-wins", channel="AFN")
    await rows.fulfillment("order-wins", channel="MFN")
    await rows.shipment("order-wins", shipped=NOW - D, valid=False, channel="MFN")
    await rows.case("order-wins", channel="MFN")
    # an order without a channel takes fulfillment's
    await rows.order("no-channel", channel=None)
    await rows.fulfillment("no-channel", channel="AFN")
    await rows.shipment("no-channel", shipped=NOW - D, channel="MFN")
    # fulfillment's latest_ship_date wins over the shipment's
    await rows.fulfillment("ship-by", latest_ship=NOW - 20 * D)
    await rows.shipment("ship-by", shipped=NOW - D, on_time=False, latest_ship=NOW - D)
    counts = await rows.counts()
    assert counts.odr == {"MFN": Ratio(1, 2), "AFN": Ratio(1, 2)}
    assert counts.odr_by_kind["AFN"] == {**NO_KINDS, "a_to_z": 1}
    assert counts.pre_fulfillment_cancel == Ratio(1, 2)  # fulfillment-only / it and case-only
    assert counts.late_shipment == {10: Ratio(1, 1), 30: Ratio(2, 2)}


async def test_a_sellers_figures_ignore_other_sellers_rows(rows: Rows) -> None:
    await rows.order("mine-1", latest_ship=NOW - D)
    await rows.shipment("mine-1", shipped=NOW - D)
    await rows.order("mine-2", latest_ship=NOW - D)
    await rows.case("mine-2")
    await rows.fulfillment("mine-2", canceled_by="seller")
    for oid in ("theirs-1", "theirs-2", "theirs-3"):
        await rows.order(oid, latest_ship=NOW - D, seller=OTHER_SELLER)
        await rows.fulfillment(oid, ship_late=True, seller=OTHER_SELLER)
        await rows.shipment(oid, shipped=NOW - D, valid=False, seller=OTHER_SELLER)
        await rows.case(oid, kind="chargeback", seller=OTHER_SELLER)
    # another seller's rows about my order (ids are not unique across sellers' cases)
    await rows.case("mine-1", kind="chargeback", cid="foreign", seller=OTHER_SELLER)
    await rows.shipment("mine-1", shipped=NOW - D, valid=False, sid="foreign", seller=OTHER_SELLER)
    mine = await rows.counts()
    assert mine.odr["MFN"] == Ratio(1, 2)
    assert mine.odr_by_kind["MFN"] == {**NO_KINDS, "a_to_z": 1}
    assert mine.late_shipment[10] == Ratio(0, 1)  # mine-2 was canceled unshipped
    assert mine.pre_fulfillment_cancel == Ratio(1, 2)
    theirs = await rows.counts(OTHER_SELLER)
    assert theirs.odr["MFN"] == Ratio(4, 4)  # their rows about mine-1 make it theirs too
    assert theirs.late_shipment[10] == Ratio(3, 4)


# --- when time alone changes the counts (the alert job's next evaluation) -----------------


async def _at(rows: Rows, as_of: datetime) -> tuple[HealthCounts, DeliveryCounts]:
    delivery = Reads(rows.session).delivery_counts(SELLER, as_of=as_of, since=as_of - HISTORY)
    return await rows.counts(SELLER, as_of), await delivery


async def _next(rows: Rows, as_of: datetime) -> datetime | None:
    reads = Reads(rows.session)
    return await reads.health_next_change(SELLER, as_of=as_of, since=as_of - HISTORY)


async def test_the_next_change_is_the_edge_a_date_reaches(rows: Rows) -> None:
    await rows.order("o1", purchased=NOW - 2 * D)
    edge = NOW + 5 * D  # the purchase leaves the 7-day cancel-rate window after this
    assert await _next(rows, NOW) == edge
    assert await _at(rows, edge) == await _at(rows, NOW)
    assert (await _at(rows, edge + S))[0].pre_fulfillment_cancel == Ratio(0, 0)


async def test_the_counts_stay_put_until_the_next_change(rows: Rows) -> None:
    """Walking time forward from edge to edge over the whole history, the counts never change
    before the next edge (so the alert job, evaluating a quiet seller again only once its next
    edge is reached, misses nothing)."""
    for n in range(12):
        oid, purchased = f"o{n}", NOW - (n * 11) * D + n * 3600 * S
        late = n % 3 == 0
        await rows.order(oid, purchased=purchased, latest_ship=purchased + 2 * D)
        if n % 2:
            shipped, promised = purchased + (3 if late else 1) * D, purchased + 6 * D
            scans = {"scanned": shipped + D, "delivered": promised + (D if late else -D)}
            await rows.shipment(
                oid,
                shipped=shipped,
                on_time=not late,
                promised=promised,
                **(scans if n % 7 else {}),
            )
        if n % 4 == 1:
            await rows.case(oid, purchased=purchased)
        if n % 5 == 2:
            await rows.fulfillment(oid, purchased=purchased, canceled_by="seller")
    as_of, steps = NOW - 30 * D, 0
    while (edge := await _next(rows, as_of)) is not None:
        held = await _at(rows, as_of)
        assert await _at(rows, as_of + (edge - as_of) / 2) == held
        assert await _at(rows, max(as_of, edge - timedelta(microseconds=1))) == held
        as_of, steps = edge + S, steps + 1
    assert steps > 20
    assert await _at(rows, as_of + 400 * D) == await _at(rows, as_of)  # nothing left to move
