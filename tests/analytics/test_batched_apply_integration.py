"""Records applied together (one transaction, runs handed to the ``Batched`` handler at once)
leave the same read models and ``order_events`` as the same records applied one at a time.

Two fresh databases get the same records: one through ``EventApplier.apply_many`` (what the
runner does with a partition's records), the other through ``EventApplier.apply`` per record
(the runner's one-by-one fallback and DLQ replay).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import BaseModel
from sqlalchemy import event, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from analytics.adapters import orm
from analytics.bootstrap import SPEC
from analytics.entrypoints.kafka.handlers import handlers
from analytics.service_layer.unit_of_work import SqlUnitOfWork
from shared import topics
from shared.db.migrations import upgrade_to_head
from shared.db.session import make_engine, make_sessionmaker
from shared.events import defects, fulfillment, orders
from shared.events.registry import build_event
from shared.messaging.decoding import Message
from shared.messaging.inbox import Batched, EventApplier
from tests.analytics.conftest import OTHER_SELLER, SELLER
from tests.analytics.factories import cancel, claim, feedback, ship_late, shipment, snapshot

pytestmark = pytest.mark.integration

T0 = datetime(2026, 6, 1, 10, tzinfo=UTC)
TABLES = (
    orm.orders,
    orm.order_items,
    orm.fulfillment_orders,
    orm.shipments,
    orm.defect_cases,
    orm.daily_sales,
    orm.health_orders,
    orm.health_days,
)
SKIP = {"id", "recorded_at", "updated_at"}


class Db:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self.sessions: async_sessionmaker[AsyncSession] = make_sessionmaker(engine)
        self.applier = EventApplier(
            tables=SPEC.tables,
            handlers=handlers(),
            unit_of_work=lambda session: SqlUnitOfWork.joining(session),
            by_version=SPEC.by_version,
        )

    async def together(self, messages: Sequence[Message]) -> None:
        async with self.sessions() as session, session.begin():
            await self.applier.apply_many(session, messages)

    async def one_by_one(self, messages: Sequence[Message]) -> None:
        for message in messages:
            async with self.sessions() as session, session.begin():
                await self.applier.apply(session, message)

    async def state(self) -> dict[str, list[dict[str, Any]]]:
        """Every read model and the events seen (in the order recorded), ids and clocks aside."""
        async with self.sessions() as session:
            state = {t.name: await _rows(session, t, order_by=list(t.primary_key)) for t in TABLES}
            e = orm.order_events.c
            state["order_events"] = await _rows(session, orm.order_events, order_by=[e.id])
        return state


async def _rows(session: AsyncSession, table: Any, *, order_by: list[Any]) -> list[dict[str, Any]]:
    columns = [c for c in table.c if c.name not in SKIP]
    rows = await session.execute(select(*columns).order_by(*order_by))
    return [dict(r._mapping) for r in rows]


@pytest.fixture
async def make_db(make_database: Callable[[str], str]) -> AsyncIterator[Callable[[], Any]]:
    engines: list[AsyncEngine] = []

    async def make() -> Db:
        url = make_database("analytics_batch")
        await asyncio.to_thread(upgrade_to_head, SPEC.migrations_dir, url)
        engines.append(make_engine(url, pool_size=2))
        return Db(engines[-1])

    yield make
    for engine in engines:
        await engine.dispose()


class Records:
    """Kafka records of one partition per topic, with growing offsets."""

    def __init__(self) -> None:
        self.offsets: dict[str, int] = {}

    def __call__(
        self, topic: str, event_type: str, payload: BaseModel, *, version: int, seller: str = SELLER
    ) -> Message:
        subject = str(getattr(payload, "amazon_order_id", ""))
        cloud_event = build_event(
            topic=topic,
            event_type=event_type,
            payload=payload,
            source=topic.split(".")[0],
            subject=subject,
            seller_id=seller,
            version=version,
        )
        offset = self.offsets[topic] = self.offsets.get(topic, -1) + 1
        return Message(topic, 0, offset, subject, cloud_event.to_bytes())


def _order(record: Records, order: Any, *, event_type: str = orders.ORDER_UPDATED) -> Message:
    return record(topics.ORDERS, event_type, order, version=order.version, seller=order.seller_id)


def _orders_run(record: Records) -> tuple[list[Message], list[Message]]:
    """Records already applied, then a run of orders.v1 records applied after them."""
    held = snapshot(purchased=T0, version=2, quantity=2, unit_price="10.00")
    held_v1 = snapshot(purchased=T0, version=1, oid=held.amazon_order_id)
    held_v3 = snapshot(purchased=T0, version=3, oid=held.amazon_order_id, status="Shipped")
    same = [
        snapshot(purchased=T0, version=v, oid="111-0000001-0000001", quantity=v, status=s)
        for v, s in ((1, "Pending"), (2, "Unshipped"), (3, "Shipped"))
    ]
    new = [snapshot(purchased=T0 + timedelta(hours=n), unit_price=f"{n + 5}.00") for n in range(4)]
    foreign = snapshot(purchased=T0, seller=OTHER_SELLER, sku="OTHER", asin="B0OTHER001")
    before = [_order(record, held, event_type=orders.ORDER_CREATED)]
    run = [
        _order(record, new[0], event_type=orders.ORDER_CREATED),
        _order(record, same[0], event_type=orders.ORDER_CREATED),
        _order(record, held_v1),  # older than the held version 2: stale
        _order(record, new[1], event_type=orders.ORDER_CREATED),
        _order(record, same[1]),
        _order(record, foreign, event_type=orders.ORDER_CREATED),
        _order(record, same[0], event_type=orders.ORDER_CREATED),  # a new event, stale version
        _order(record, held_v3),
        _order(record, same[2]),
        _order(record, same[1]),  # stale after version 3
        _order(record, new[2], event_type=orders.ORDER_CREATED),
        _order(record, new[3], event_type=orders.ORDER_CREATED),
    ]
    return before, run


def _fulfillment_and_defects_runs(record: Records) -> list[list[Message]]:
    a = snapshot(purchased=T0, latest_ship=T0 + timedelta(days=2))
    b = snapshot(purchased=T0, latest_ship=T0 + timedelta(days=2))
    f, d = topics.FULFILLMENT, topics.DEFECTS
    shipped = shipment(a, shipped=T0 + timedelta(days=1))
    return [
        [
            record(
                f, fulfillment.ORDER_SHIP_LATE, ship_late(b, at=T0 + timedelta(days=3)), version=1
            ),
            record(f, fulfillment.SHIPMENT_CONFIRMED, shipped, version=2),
            record(f, fulfillment.ORDER_CANCELED, cancel(b, at=T0 + timedelta(days=4)), version=2),
            record(f, fulfillment.SHIPMENT_CONFIRMED, shipped, version=1),  # stale
        ],
        [
            record(d, "claim.decided", claim(a, counts=True, status="decided"), version=2),
            record(d, "claim.filed", claim(a, counts=False), version=1),  # stale
            record(d, defects.FEEDBACK_RECEIVED, feedback(b, rating=1, counts=True), version=1),
        ],
    ]


async def test_a_run_applied_together_stores_what_one_at_a_time_stores(
    make_db: Callable[[], Any],
) -> None:
    record = Records()
    before, run = _orders_run(record)
    others = _fulfillment_and_defects_runs(record)
    together, alone = await make_db(), await make_db()
    for db in (together, alone):
        await db.one_by_one(before)

    statements = _count_statements(together.engine)
    await together.together(run)
    # (no inbox: snapshots are idempotent by version) the orders' lock, their share of the health
    # days and of the daily sales before; lock, upsert, delete items, insert items; the sales
    # share after and its difference added; the health rows recomputed, their share after and
    # its difference added; record
    assert len(statements) == 13
    for messages in others:
        await together.together(messages)
    await alone.one_by_one(run)
    for messages in others:
        await alone.one_by_one(messages)

    state = await together.state()
    assert state == await alone.state()
    _assert_newest_wins(state, before, run)


async def test_a_run_of_new_orders_stores_their_items_without_looking_for_old_ones(
    make_db: Callable[[], Any],
) -> None:
    record = Records()
    new = [snapshot(purchased=T0, quantity=n + 1) for n in range(3)]
    db = await make_db()
    statements = _count_statements(db.engine)
    await db.together([_order(record, o, event_type=orders.ORDER_CREATED) for o in new])
    assert not [s for s in statements if s.lstrip().upper().startswith("DELETE")]
    # orders' lock, health and sales shares before, lock, upsert, insert items, sales share
    # after and added, health rows recomputed, their share after and added, record (no inbox)
    assert len(statements) == 12
    state = await db.state()
    stored = {(r["amazon_order_id"], r["quantity"]) for r in state["order_items"]}
    assert stored == {(o.amazon_order_id, n + 1) for n, o in enumerate(new)}


def test_snapshots_of_both_types_go_to_one_batched_handler() -> None:
    table = handlers()
    assert isinstance(table[orders.ORDER_CREATED], Batched)
    assert table[orders.ORDER_CREATED] is table[orders.ORDER_UPDATED]


def _count_statements(engine: AsyncEngine) -> list[str]:
    seen: list[str] = []

    @event.listens_for(engine.sync_engine, "before_cursor_execute")
    def count(*args: Any) -> None:
        seen.append(args[2])

    return seen


def _assert_newest_wins(
    state: dict[str, list[dict[str, Any]]], before: list[Message], run: list[Message]
) -> None:
    stored = {row["amazon_order_id"]: row for row in state["orders"]}
    assert len(stored) == 7
    assert [r["amazon_order_id"] for r in state["orders"] if r["seller_id"] == OTHER_SELLER]
    same = stored["111-0000001-0000001"]
    assert (same["version"], same["order_status"], same["units"]) == (3, "Shipped", 3)
    items = [r for r in state["order_items"] if r["amazon_order_id"] == "111-0000001-0000001"]
    assert [r["quantity"] for r in items] == [3]
    seen = [r for r in state["order_events"] if r["topic"] == topics.ORDERS]
    assert [r["kafka_offset"] for r in seen] == [0, *(m.offset for m in run)]
    versions = [
        (r["version"], r["applied"]) for r in seen if r["subject"] == same["amazon_order_id"]
    ]
    assert versions == [(1, True), (2, True), (1, False), (3, True), (2, False)]
    held = [(r["version"], r["applied"]) for r in seen if r["subject"] == before[0].key]
    assert held == [(2, True), (1, False), (3, True)]
    assert stored[str(before[0].key)]["order_status"] == "Shipped"
