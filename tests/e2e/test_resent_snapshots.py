"""The same event published twice at two offsets (a relay that died between publishing and
marking sent re-sends it, docs/adr/0004): an order snapshot is applied once in every store by
its version and takes no inbox row; a fact is still dropped by the inbox
(docs/adr/0057-offsets-stored-with-the-data.md).

Every service runs in this process with its worker only (no relay: what a handler publishes
stays in its outbox, where a second apply would show), on real Kafka and PostgreSQL.
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import MetaData, select

from orderflow_testkit.harness import RunningService, eventually
from orderflow_testkit.samples import order_id
from shared import topics
from shared.events import fulfillment, orders
from shared.events.common import Money
from shared.events.fulfillment import OrderCanceled
from shared.events.orders import OrderItem, OrderSnapshot
from shared.events.registry import build_event
from shared.kafka.client import make_producer
from shared.messaging.envelope import CloudEvent

from .conftest import in_process_platform

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]

SELLER = "A2SELLER1EXAMPLE"
STORES = ("fulfillment", "defects", "analytics")
# What changes with every fetch, applied or not: where each partition's consumer stands.
MOVING = {"consumer_offsets"}


@pytest.fixture
async def platform(
    make_database: Callable[[str], str], kafka_bootstrap: str, topic_prefix: str
) -> AsyncIterator[dict[str, RunningService]]:
    async with in_process_platform(
        make_database,
        kafka_bootstrap=kafka_bootstrap,
        prefix=f"{topic_prefix}re{secrets.token_hex(3)}.",
        roles=("worker",),
    ) as running:
        yield running


def _snapshot(oid: str, *, version: int) -> CloudEvent:
    now = datetime.now(UTC).replace(microsecond=0)
    price = Money(amount=Decimal("25.00"), currency_code="USD")
    order = OrderSnapshot(
        amazon_order_id=oid,
        seller_id=SELLER,
        version=version,
        marketplace_id="ATVPDKIKX0DER",
        purchase_date=now - timedelta(hours=1),
        last_update_date=now,
        order_status="Unshipped",
        fulfillment_channel="MFN",
        order_total=price,
        latest_ship_date=now + timedelta(days=2),
        items=(
            OrderItem(order_item_id="1", asin="B000000001", quantity_ordered=1, item_price=price),
        ),
    )
    return build_event(
        topic=topics.ORDERS,
        event_type=orders.ORDER_CREATED if version == 1 else orders.ORDER_UPDATED,
        payload=order,
        source="resend-test",
        subject=oid,
        seller_id=SELLER,
        version=version,
    )


def _cancel(oid: str) -> CloudEvent:
    now = datetime.now(UTC).replace(microsecond=0)
    fact = OrderCanceled(
        amazon_order_id=oid,
        seller_id=SELLER,
        order_status="Canceled",
        reason="NoInventory",
        buyer_requested=False,
        canceled_by="seller",
        canceled_at=now,
        purchase_date=now - timedelta(hours=1),
    )
    return build_event(
        topic=topics.FULFILLMENT,
        event_type=fulfillment.ORDER_CANCELED,
        payload=fact,
        source="resend-test",
        subject=oid,
        seller_id=SELLER,
        version=2,
    )


async def _publish(svc: RunningService, topic: str, event: CloudEvent) -> tuple[int, int]:
    """Publish the event's bytes once; the partition and offset it got."""
    settings = svc.resources.settings
    producer = make_producer(settings.kafka_bootstrap_servers, client_id="resend-test")
    await producer.start()
    try:
        sent = await producer.send_and_wait(
            settings.topic(topic), event.to_bytes(), key=event.subject.encode()
        )
    finally:
        await producer.stop()
    return sent.partition, sent.offset


async def _passed(svc: RunningService, topic: str, partition: int, offset: int) -> bool:
    """The service's stored offset of the partition is past ``offset`` (the record is done)."""
    t = svc.resources.tables.consumer_offsets
    stmt = select(t.c.next_offset).where(
        t.c.topic == svc.resources.settings.topic(topic), t.c.kafka_partition == partition
    )
    async with svc.resources.sessions() as session:
        stored = (await session.execute(stmt)).scalar()
    return stored is not None and stored > offset


async def _state(svc: RunningService) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table of the service, but the stored offsets."""
    metadata: MetaData = svc.resources.tables.inbox.metadata
    state = {}
    async with svc.resources.sessions() as session:
        for table in metadata.sorted_tables:
            if table.name not in MOVING:
                rows = (await session.execute(select(table))).all()
                state[table.name] = sorted((tuple(r) for r in rows), key=repr)
    return state


async def _inbox_rows(svc: RunningService, event: CloudEvent) -> int:
    t = svc.resources.tables.inbox
    async with svc.resources.sessions() as session:
        rows = await session.execute(select(t.c.event_id).where(t.c.event_id == event.id))
        return len(rows.all())


async def _deliver_twice(
    platform: dict[str, RunningService], services: tuple[str, ...], topic: str, event: CloudEvent
) -> tuple[dict[str, Any], tuple[int, int]]:
    """Publish the event, wait until ``services`` are past it, keep their state; publish the
    same bytes again, wait until they are past the copy; answer the state after the first and
    where the first copy was."""
    first = await _publish(platform["ingest"], topic, event)
    for name in services:
        await eventually(lambda name=name: _passed(platform[name], topic, *first), timeout=60)
    after_first = {name: await _state(platform[name]) for name in services}
    again = await _publish(platform["ingest"], topic, event)
    assert again[1] > first[1] or again[0] != first[0]  # a second record, as a relay re-send
    for name in services:
        await eventually(lambda name=name: _passed(platform[name], topic, *again), timeout=60)
    return after_first, first


async def test_a_resent_snapshot_applies_once_everywhere_without_an_inbox_row(
    platform: dict[str, RunningService],
) -> None:
    oid = order_id()
    event = _snapshot(oid, version=1)

    after_first, (partition, offset) = await _deliver_twice(platform, STORES, topics.ORDERS, event)

    for name in STORES:
        svc = platform[name]
        state = after_first[name]
        assert [r for r in state["orders"] if oid in r], name  # applied the first time
        assert await _state(svc) == state, name  # the copy changed nothing
        assert await _inbox_rows(svc, event) == 0, name
        assert state["dead_letters"] == [], name
    # Analytics' event log holds it once, with where the first copy was read from.
    analytics = platform["analytics"]
    log = analytics.resources.tables.inbox.metadata.tables["order_events"]
    async with analytics.resources.sessions() as session:
        rows = (await session.execute(select(log).where(log.c.event_id == event.id))).all()
    assert [(r.topic, r.kafka_partition, r.kafka_offset, r.applied) for r in rows] == [
        (analytics.resources.settings.topic(topics.ORDERS), partition, offset, True)
    ]
    sales = after_first["analytics"]["daily_sales"]
    assert sales, "the order counted in the daily sales rollup"


async def test_a_resent_newer_snapshot_after_an_older_one_still_applies_by_version(
    platform: dict[str, RunningService],
) -> None:
    oid = order_id()
    await _deliver_twice(platform, STORES, topics.ORDERS, _snapshot(oid, version=1))
    v2 = _snapshot(oid, version=2)
    after_first, _ = await _deliver_twice(platform, STORES, topics.ORDERS, v2)
    for name in STORES:
        assert await _state(platform[name]) == after_first[name], name
        assert await _inbox_rows(platform[name], v2) == 0, name
    applied = [r for r in after_first["analytics"]["order_events"] if v2.id in r]
    assert len(applied) == 1 and True in applied[0]  # the newer version applied, once


async def test_a_resent_fact_is_still_dropped_by_the_inbox(
    platform: dict[str, RunningService],
) -> None:
    oid = order_id()
    await _deliver_twice(platform, STORES, topics.ORDERS, _snapshot(oid, version=1))
    cancel = _cancel(oid)
    consumers = ("defects", "analytics")  # fulfillment.v1's consumers

    after_first, _ = await _deliver_twice(platform, consumers, topics.FULFILLMENT, cancel)

    for name in consumers:
        svc = platform[name]
        assert await _inbox_rows(svc, cancel) == 1, name
        assert await _state(svc) == after_first[name], name
        assert after_first[name]["dead_letters"] == [], name
