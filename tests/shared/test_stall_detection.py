"""Issue 20: a worker that cannot get on while its records wait turns ``/readyz`` red and
``orderflow_stalled`` to 1, and both recover once it moves again; an idle worker is not stalled;
a worker whose consumer fails starts a new one that rejoins the group (the process stays up).
On the shared test Kafka and PostgreSQL, with ``STALL_SECONDS`` of 2. (The relay's side, on a
broker of its own that can be stopped: ``test_self_healing_relay.py``.)"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaConnectionError
from prometheus_client import REGISTRY
from sqlalchemy import func, select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import create_async_engine

import shared.runtime
from orderflow_testkit.harness import RunningService, eventually, running_service
from shared import topics
from shared.messaging.outbox import add_event
from shared.settings import ServiceSettings

from .conftest import HOLD, HOLD_ID, PROBE, effects, metadata, order_event, plumbing
from .test_pool import _terminate_backends

pytestmark = pytest.mark.integration

STALL_SECONDS = 2.0


@contextlib.asynccontextmanager
async def _start(settings: ServiceSettings) -> AsyncIterator[RunningService]:
    engine = create_async_engine(settings.database_url)
    async with engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
    await engine.dispose()
    async with running_service(PROBE, settings, roles=("worker",), migrate=False) as svc:
        yield svc


@pytest.fixture
async def probe(probe_settings: ServiceSettings) -> AsyncIterator[RunningService]:
    settings = probe_settings.model_copy(update={"stall_seconds": STALL_SECONDS})
    async with _start(settings) as svc:
        yield svc


async def _publish(svc: RunningService, *events: Any) -> None:
    settings = svc.resources.settings
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap_servers)
    await producer.start()
    try:
        for event in events:
            await producer.send_and_wait(
                settings.topic(topics.ORDERS), event.to_bytes(), key=event.subject.encode()
            )
    finally:
        await producer.stop()


async def _effects(svc: RunningService, order_id: str) -> int:
    stmt = select(func.count()).select_from(effects).where(effects.c.amazon_order_id == order_id)
    async with svc.resources.sessions() as session:
        return int((await session.execute(stmt)).scalar_one())


async def _ready(svc: RunningService) -> httpx.Response:
    return await svc.client.get("/readyz")


def _sample(name: str, **labels: str) -> float | None:
    return REGISTRY.get_sample_value(name, labels)


async def test_a_worker_stuck_on_its_records_turns_readyz_red_and_recovers(
    probe: RunningService,
) -> None:
    await asyncio.sleep(STALL_SECONDS + 0.5)
    idle = await _ready(probe)
    assert idle.status_code == 200, idle.json()  # nothing waits: an idle worker is not stalled
    assert idle.json()["checks"]["progress"] == "ok"

    held = asyncio.Event()
    HOLD[HOLD_ID] = held
    try:
        order = order_event("113-0000020-0000001", seller_order_id=HOLD_ID)
        await _publish(probe, order)

        async def stalled() -> bool:
            answer = await _ready(probe)
            return answer.status_code == 503 and answer.json()["checks"]["progress"].startswith(
                "failed: Stalled: worker made no progress"
            )

        await eventually(stalled, timeout=30)
        assert _sample("orderflow_stalled", service="probe", role="worker") == 1.0
        metrics_text = (await probe.client.get("/metrics")).text
        assert 'orderflow_stalled{role="worker",service="probe"} 1.0' in metrics_text
    finally:
        held.set()
        HOLD.pop(HOLD_ID, None)

    await eventually(lambda: _effects(probe, order.subject), timeout=30)
    await eventually(lambda: _ready_again(probe), timeout=30)
    assert _sample("orderflow_stalled", service="probe", role="worker") == 0.0
    applied_at = _sample("orderflow_consumer_last_applied_timestamp_seconds", service="probe")
    assert applied_at is not None and applied_at > 0
    orders = probe.resources.settings.topic(topics.ORDERS)
    assert _sample("orderflow_consumer_lag", service="probe", topic=orders) == 0.0


async def _ready_again(svc: RunningService) -> bool:
    return (await _ready(svc)).status_code == 200


async def test_a_worker_whose_consumer_fails_starts_a_new_one_that_rejoins(
    probe_settings: ServiceSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    made: list[Any] = []
    real = shared.runtime.make_consumer

    def failing_once(*args: Any, **kwargs: Any) -> Any:
        consumer = real(*args, **kwargs)
        if not made:  # the first consumer's first poll fails, as a lost broker session would
            polls = consumer.getmany

            async def getmany(*a: Any, **k: Any) -> Any:
                consumer.getmany = polls
                raise KafkaConnectionError("the connection to the group coordinator broke")

            consumer.getmany = getmany
        made.append(consumer)
        return consumer

    monkeypatch.setattr(shared.runtime, "make_consumer", failing_once)
    monkeypatch.setattr(shared.runtime, "CONSUMER_RESTART_SECONDS", (0.1, 0.1))
    before = _sample("orderflow_kafka_clients_replaced_total", service="probe", client="consumer")
    async with _start(probe_settings) as svc:
        order = order_event("113-0000020-0000002")
        await _publish(svc, order)
        await eventually(lambda: _effects(svc, order.subject), timeout=60)
        assert len(made) == 2
        after = _sample(
            "orderflow_kafka_clients_replaced_total", service="probe", client="consumer"
        )
        assert (after or 0) - (before or 0) == 1


async def test_a_relay_and_a_worker_go_on_after_postgresql_dropped_their_connections(
    probe_settings: ServiceSettings,
) -> None:
    """What a database restart does to the pools (every backend gone): the relay's and the
    worker's next transactions fail once as transient, the pool reconnects, and both go on:
    an event queued afterwards is published and applied, and nothing stays stalled."""
    settings = probe_settings.model_copy(update={"stall_seconds": STALL_SECONDS})
    engine = create_async_engine(settings.database_url)
    async with engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
    await engine.dispose()
    async with running_service(PROBE, settings, roles=("worker", "relay"), migrate=False) as svc:
        first = order_event("113-0000020-0000003")
        await _queue(svc, first)
        await eventually(lambda: _effects(svc, first.subject), timeout=60)

        assert await _terminate_backends(settings.database_url) > 0
        second = order_event("113-0000020-0000004")
        await _queue(svc, second)
        await eventually(lambda: _effects(svc, second.subject), timeout=60)
        await eventually(lambda: _ready_again(svc), timeout=30)


async def _queue(svc: RunningService, event: Any) -> None:
    """Through the outbox (the relay publishes it), retrying while the pool reconnects."""
    settings = svc.resources.settings
    for attempt in range(20):
        try:
            async with svc.resources.sessions() as session, session.begin():
                await add_event(
                    session, plumbing.outbox, topic=settings.topic(topics.ORDERS), event=event
                )
            return
        except DBAPIError:
            await asyncio.sleep(0.1 * (attempt + 1))
    raise AssertionError("the pool never reconnected")
