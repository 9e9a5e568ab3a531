"""A run of orders.v1 snapshots applied at once (the consumer's batched path) stores exactly
what applying them one at a time stores: the same orders, the same outbox messages in the
same order; with a handful of statements for the whole run."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import event, select

from fulfillment.adapters import orm
from fulfillment.bootstrap import SPEC
from fulfillment.service_layer.handlers import Incoming, announced, apply_snapshots
from fulfillment.service_layer.unit_of_work import SqlUnitOfWork
from fulfillment.settings import FulfillmentSettings
from orderflow_testkit.harness import RunningService, running_service
from shared import topics
from shared.events.orders import ORDER_CREATED, ORDER_UPDATED, OrderSnapshot
from shared.messaging.decoding import Message
from shared.messaging.envelope import CloudEvent
from shared.messaging.inbox import Batched
from tests.fulfillment.conftest import OTHER_SELLER, SELLER, apply, event_of, snapshot

pytestmark = pytest.mark.integration

NOW = datetime.now(UTC).replace(microsecond=0)


@pytest.fixture
async def twin(
    fulfillment_settings: FulfillmentSettings, make_database: Callable[[str], str]
) -> AsyncIterator[tuple[RunningService, RunningService]]:
    """Two fulfillments on two databases, no background jobs, the same fixed clock."""
    other = fulfillment_settings.model_copy(
        update={"database_url": make_database("fulfillment_twin")}
    )
    async with (
        running_service(SPEC, fulfillment_settings, roles=()) as one,
        running_service(SPEC, other, roles=()) as two,
    ):
        for svc in (one, two):
            svc.resources.deps.clock = lambda: NOW
        yield one, two


def _scenario() -> tuple[list[CloudEvent], list[CloudEvent], list[str]]:
    """(events applied to both first, the run, the outcome expected for each of the run)."""
    a, b, c, d, e = (snapshot(purchased=NOW - timedelta(hours=2)) for _ in range(5))

    def later(s: OrderSnapshot, version: int, **fields: Any) -> OrderSnapshot:
        return snapshot(
            amazon_order_id=s.amazon_order_id,
            version=version,
            purchased=s.purchase_date,
            **fields,
        )

    before = [event_of(d), event_of(e)]
    run = [
        (event_of(a), "created"),
        (event_of(later(b, 1, status="Pending")), "created"),
        (event_of(later(c, 1, status="Canceled", buyer_cancel=True)), "created"),
        (event_of(later(a, 2, ship_service_level="Expedited")), "updated"),
        (event_of(later(a, 3, status="Canceled")), "updated"),  # order.canceled, by Amazon
        (event_of(later(b, 3, status="Unshipped")), "updated"),
        (event_of(later(b, 2, status="Pending")), "stale"),  # older, after the newer one
        (event_of(later(d, 2, seller_id=OTHER_SELLER)), "foreign"),
        (event_of(later(e, 2, status="Shipped", quantities=(3,))), "updated"),
        (event_of(later(e, 2, status="Unshipped")), "stale"),  # same version again
        (event_of(later(a, 4, seller_id=OTHER_SELLER)), "foreign"),
    ]
    return before, [ev for ev, _ in run], [outcome for _, outcome in run]


async def _ship(svc: RunningService, amazon_order_id: str) -> None:
    """A seller's shipment, the same on both databases (fixed ids and times)."""
    async with svc.resources.deps.uow() as uow:
        order = await uow.orders.get(amazon_order_id, seller_id=None, lock=True)
        assert order is not None
        order.confirm_shipment(
            shipment_id="ship-1",
            carrier_code="UPS",
            tracking_number="1Z999AA10123456784",
            ship_date=NOW,
            items=None,
            now=NOW,
        )
        await uow.orders.save(order)
        uow.publish(announced(order, None))
        await uow.commit()


async def _stored(svc: RunningService) -> tuple[list[dict[str, Any]], list[tuple[Any, ...]]]:
    o, outbox = orm.orders, svc.resources.tables.outbox
    rows = select(*(c for c in o.c if c.name not in ("created_at", "updated_at")))
    messages = select(outbox.c.payload).order_by(outbox.c.id)
    async with svc.resources.sessions() as session:
        orders = [
            dict(r._mapping) for r in await session.execute(rows.order_by(o.c.amazon_order_id))
        ]
        payloads = (await session.execute(messages)).scalars().all()
    events = [CloudEvent.from_bytes(p) for p in payloads]
    announced = [(e.type, e.subject, e.aggregateversion, e.correlationid, e.data) for e in events]
    return orders, announced


def _messages(svc: RunningService, events: Sequence[CloudEvent]) -> list[Message]:
    topic = svc.resources.settings.topic(topics.ORDERS)
    return [Message(topic, 0, n, e.subject, e.to_bytes()) for n, e in enumerate(events)]


async def test_a_run_stores_what_one_at_a_time_stores(
    twin: tuple[RunningService, RunningService],
) -> None:
    batched, single = twin
    before, run, _ = _scenario()
    for svc in twin:
        for ev in before:
            assert await apply(svc, ev)
        await _ship(svc, before[1].subject)

    statements: list[str] = []
    engine = batched.resources.engine.sync_engine

    def listener(*args: Any) -> None:
        statements.append(args[2])

    event.listen(engine, "before_cursor_execute", listener)
    try:
        async with batched.resources.sessions() as session, session.begin():
            applied = await batched.resources.applier.apply_many(session, _messages(batched, run))
    finally:
        event.remove(engine, "before_cursor_execute", listener)
    for ev in run:
        assert await apply(single, ev)

    assert applied == len(run)
    # orders read (locked), new orders, changed orders, outbox (whose trigger notifies the
    # relay); no inbox claim: snapshots are idempotent by version (docs/adr/0057)
    assert len(statements) == 4, statements
    assert await _stored(batched) == await _stored(single)
    orders, announced = await _stored(batched)
    a, b, c, d, e = (run[0].subject, run[1].subject, run[2].subject, *(x.subject for x in before))
    held = {
        o["amazon_order_id"]: (o["status"], o["snapshot_version"], o["seller_id"]) for o in orders
    }
    assert held == {
        a: ("Canceled", 3, SELLER),
        b: ("Unshipped", 3, SELLER),
        c: ("Canceled", 1, SELLER),
        d: ("Unshipped", 1, SELLER),
        e: ("Shipped", 2, SELLER),
    }
    canceled = [(key, version) for kind, key, version, *_ in announced if kind == "order.canceled"]
    assert canceled == [(c, 1), (a, 3)]


async def test_the_outcome_of_each_snapshot_of_a_run(fulfillment: RunningService) -> None:
    before, run, expected = _scenario()
    for ev in before:
        assert await apply(fulfillment, ev)
    resources = fulfillment.resources
    incoming = [Incoming(OrderSnapshot.model_validate(e.data), str(e.id)) for e in run]
    async with resources.sessions() as session, session.begin():
        outcomes = await apply_snapshots(
            SqlUnitOfWork.joining(session, topic=resources.deps.topic),
            incoming,
            pii=resources.deps.pii,
            clock=lambda: NOW,
        )
    assert outcomes == expected


def test_created_and_updated_share_one_batched_handler(fulfillment: RunningService) -> None:
    handlers = fulfillment.resources.applier.handlers
    assert isinstance(handlers[ORDER_CREATED], Batched)
    assert handlers[ORDER_CREATED] is handlers[ORDER_UPDATED]
