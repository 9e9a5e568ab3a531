"""Issue 20: a relay whose producer can no longer deliver replaces it and goes on by itself.

An idempotent producer numbers each partition's batches; a batch it gave a number to and that
the broker never appended leaves a gap the same producer never closes: the broker refuses every
later batch of that partition with ``OutOfOrderSequenceNumber``. Issue 20 saw it after a broker
restart (aiokafka fails batches that waited through the moment the restarting broker named no
leader, after numbering them). Here, on a broker of the test's own (free ports, a temporary
directory; the shared test broker is never touched):

- the gap made on purpose: the broker refuses one batch (a record above the topic's
  ``max.message.bytes``), then the limit is raised, as an operator would. A relay that keeps its
  producer (how every relay worked before) stays stuck on ``OutOfOrderSequenceNumber`` with its
  rows unsent, and the stall shows (``orderflow_stalled``, the readiness check); a relay that
  replaces its producer (``ProducerSlot``, what ``run_relay`` does) publishes everything, in
  order per key, and is no longer stalled.
- the broker restarted while events keep coming: the relay publishes everything afterwards, in
  order per key, whether or not this restart left the old producer stuck (with aiokafka's
  default batch size, used here, a restart like it did in 5 of 6 tries on the bench machine).
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import tempfile
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from aiokafka import AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from prometheus_client import REGISTRY
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine

from devstack.kafka import KafkaServer
from orderflow_testkit.harness import eventually, running_service
from shared import topics
from shared.db.session import make_sessionmaker
from shared.kafka.client import ensure_topics, make_producer
from shared.kafka.producer import ProducerSlot
from shared.messaging.outbox import add_events, add_raw
from shared.messaging.relay import OutboxRelay
from shared.progress import Progress, Stalled
from shared.settings import ServiceSettings

from .conftest import PROBE, metadata, order_event, plumbing

pytestmark = pytest.mark.integration

REQUEST_TIMEOUT_MS = 2_000  # shorter than the outage, as 15 s is shorter than a real restart
# aiokafka's default batch size. With it the restart below leaves the producer stuck every time
# on the 2-core machine; with the relay's 256 KB it happened in a make faults run but
# not reliably within a short test. The failure and its cure are the same either way.
BATCH_BYTES = 16 * 1024
KEYS = [f"112-0000020-{n:07d}" for n in range(12)]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def broker() -> Iterator[KafkaServer]:
    with tempfile.TemporaryDirectory(prefix="orderflow-heal-") as tmp:
        server = KafkaServer(Path(tmp), _free_port(), _free_port(), fresh=True)
        server.start()
        server.fresh = False  # a restart keeps the log, as a real one does
        try:
            yield server
        finally:
            server.stop()


@pytest.fixture
async def sessions(
    make_database: Callable[[str], str],
) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = create_async_engine(make_database("heal"))
    async with engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
    yield make_sessionmaker(engine)
    await engine.dispose()


async def _queue(sessions: async_sessionmaker[AsyncSession], topic: str, version: int) -> None:
    """One event of every key, at ``version``, in one transaction."""
    events = [order_event(key, version=version) for key in KEYS]
    async with sessions() as session, session.begin():
        await add_events(session, plumbing.outbox, topic=topic, events=events)


async def _unsent(sessions: async_sessionmaker[AsyncSession]) -> int:
    o = plumbing.outbox.c
    stmt = select(func.count()).select_from(plumbing.outbox).where(o.sent_at.is_(None))
    async with sessions() as session:
        return int((await session.execute(stmt)).scalar_one())


async def _all_sent(sessions: async_sessionmaker[AsyncSession]) -> bool:
    return await _unsent(sessions) == 0


async def _read_all(bootstrap: str, topic: str) -> list[Any]:
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", group_id=None
    )
    await consumer.start()
    try:
        records: list[Any] = []
        while batch := await consumer.getmany(timeout_ms=1500):
            for part in batch.values():
                records.extend(part)
        return records
    finally:
        await consumer.stop()


async def _restart_under_load(
    broker: KafkaServer, sessions: async_sessionmaker[AsyncSession], topic: str
) -> int:
    """Restart the broker while events keep coming (one version of every key every 0.2 s, as
    under ingest's load): the relay is publishing as the broker shuts down, so it learns that
    its partitions have no leader, and its batches wait longer than the request timeout.
    Returns the last version queued."""
    version = 1
    writing = asyncio.Event()

    async def write() -> None:
        nonlocal version
        while not writing.is_set():
            version += 1
            await _queue(sessions, topic, version)
            await asyncio.sleep(0.2)

    writer = asyncio.ensure_future(write())
    try:
        await asyncio.sleep(1)
        await asyncio.to_thread(broker.stop)
        await asyncio.sleep(3 * REQUEST_TIMEOUT_MS / 1000)
        await asyncio.to_thread(broker.start)
        await asyncio.sleep(2)
    finally:
        writing.set()
        await writer
    return version


def _stalled_gauge(service: str) -> float | None:
    return REGISTRY.get_sample_value("orderflow_stalled", {"service": service, "role": "relay"})


def _relay(
    broker: KafkaServer,
    sessions: async_sessionmaker[AsyncSession],
    service: str,
    *,
    replaces: bool,
) -> tuple[OutboxRelay, Progress]:
    def new_producer() -> Any:
        return make_producer(
            broker.bootstrap,
            client_id=service,
            request_timeout_ms=REQUEST_TIMEOUT_MS,
            max_batch_size=BATCH_BYTES,
        )

    slot = (
        ProducerSlot(new_producer, service=service, close_timeout=3.0)
        if replaces
        else ProducerSlot(producer=new_producer())
    )
    progress = Progress(service=service, role="relay", stall_seconds=3.0)
    relay = OutboxRelay(
        sessions=sessions,
        outbox=plumbing.outbox,
        producer=slot,
        idle_seconds=0.05,
        service=service,
        ack_timeout=20.0,
        progress=progress,
    )
    return relay, progress


@contextlib.asynccontextmanager
async def _running(relay: OutboxRelay, *, replaces: bool) -> AsyncIterator[None]:
    if not replaces:
        await (await relay.producers.get()).start()
    running = asyncio.ensure_future(relay.run())
    try:
        yield
    finally:
        relay.stop()
        await running
        producer = await relay.producers.get() if not replaces else None
        await relay.producers.close()
        if producer is not None:
            await asyncio.wait_for(producer.stop(), 30)


async def _topic_limit(bootstrap: str, topic: str, limit: int | None) -> None:
    """Create ``topic`` refusing record batches above ``limit`` bytes, or (None) lift it."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, client_id="heal-test")
    await admin.start()
    try:
        if limit is not None:
            configs = {"max.message.bytes": str(limit)}
            await admin.create_topics([NewTopic(topic, 12, 1, topic_configs=configs)])
        else:
            big = {"max.message.bytes": str(2 * 1024 * 1024)}
            await admin.alter_configs([ConfigResource(ConfigResourceType.TOPIC, topic, big)])
    finally:
        await admin.close()


@pytest.mark.parametrize("replaces", [False, True], ids=["keeps-its-producer", "replaces-it"])
async def test_after_a_refused_batch_only_a_relay_that_replaces_its_producer_goes_on(
    broker: KafkaServer,
    sessions: async_sessionmaker[AsyncSession],
    replaces: bool,
) -> None:
    topic = f"refused{int(replaces)}.{topics.ORDERS}"
    await _topic_limit(broker.bootstrap, topic, 20_000)
    service = f"refused-{int(replaces)}"
    relay, progress = _relay(broker, sessions, service, replaces=replaces)
    async with _running(relay, replaces=replaces):
        await _queue(sessions, topic, version=1)
        await eventually(lambda: _all_sent(sessions), timeout=30)
        # Version 2 of the first key is too large for the topic: its batch is refused.
        big = orjson.dumps({"aggregateversion": 2, "pad": "x" * 40_000})
        async with sessions() as session, session.begin():
            await add_raw(
                session,
                plumbing.outbox,
                topic=topic,
                key=KEYS[0],
                payload=big,
                event_type="order.updated",
                headers={},
            )
            await add_events(
                session,
                plumbing.outbox,
                topic=topic,
                events=[order_event(key, version=2) for key in KEYS[1:]],
            )
        await _queue(sessions, topic, version=3)
        await eventually(lambda: progress.failures >= 2, timeout=30)
        assert progress.last_error is not None
        await _topic_limit(broker.bootstrap, topic, None)  # the operator lifts the limit

        if not replaces:
            # The stall: the cause is gone, the rows never go out, and it shows.
            await eventually(
                lambda: "OutOfOrderSequenceNumber" in (progress.last_error or ""), timeout=30
            )
            await asyncio.sleep(5)
            assert await _unsent(sessions) > 0
            assert "OutOfOrderSequenceNumber" in (progress.last_error or ""), progress.last_error
            assert progress.stalled
            assert _stalled_gauge(service) == 1.0
            assert relay.oldest_unsent_age() > 3.0
            with pytest.raises(Stalled, match="relay made no progress"):
                progress.check()
            return

        await eventually(lambda: _all_sent(sessions), timeout=60)
        assert relay.producers.replaced >= 1
        await eventually(lambda: not progress.stalled, timeout=5)
        assert _stalled_gauge(service) == 0.0
        assert relay.oldest_unsent_age() == 0.0
    await _assert_in_order(broker.bootstrap, topic, last=3)


async def test_after_a_broker_restart_under_load_the_relay_publishes_everything_in_order(
    broker: KafkaServer,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    topic = f"restart.{topics.ORDERS}"
    await ensure_topics(broker.bootstrap, [topic], partitions=12)
    relay, progress = _relay(broker, sessions, "restart", replaces=True)
    async with _running(relay, replaces=True):
        await _queue(sessions, topic, version=1)
        await eventually(lambda: _all_sent(sessions), timeout=30)
        last = await _restart_under_load(broker, sessions, topic)
        await eventually(lambda: _all_sent(sessions), timeout=90)
        await eventually(lambda: not progress.stalled, timeout=5)
    await _assert_in_order(broker.bootstrap, topic, last=last)


async def _assert_in_order(bootstrap: str, topic: str, *, last: int) -> None:
    """Every key's versions 1..last are on the topic, first seen in order (what was delivered
    before a failure comes again after it; the consumers' inboxes drop those repeats)."""
    records = await _read_all(bootstrap, topic)
    versions: dict[str, list[int]] = {}
    for record in sorted(records, key=lambda r: (r.partition, r.offset)):
        versions.setdefault(record.key.decode(), []).append(_version(record.value))
    assert sorted(versions) == sorted(KEYS)
    for key, seen in versions.items():
        assert list(dict.fromkeys(seen)) == list(range(1, last + 1)), (key, seen)


def _version(payload: bytes) -> int:
    return int(orjson.loads(payload)["aggregateversion"])


async def test_a_relay_that_cannot_publish_while_rows_wait_turns_readyz_red_and_recovers(
    broker: KafkaServer, probe_settings: ServiceSettings
) -> None:
    """The relay role as a process runs it (``run_relay``), on this module's broker: stopped
    while rows wait, the relay's /readyz fails on its progress check and the metrics show the
    stall; started again, it publishes them and is ready."""
    settings = probe_settings.model_copy(
        update={
            "kafka_bootstrap_servers": broker.bootstrap,
            "stall_seconds": 2.0,
            "relay_ack_timeout_seconds": 3.0,
        }
    )
    engine = create_async_engine(settings.database_url)
    async with engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
    await engine.dispose()
    topic = settings.topic(topics.ORDERS)
    async with running_service(PROBE, settings, roles=("relay",), migrate=False) as svc:
        sessions = svc.resources.sessions
        await _queue(sessions, topic, version=1)
        await eventually(lambda: _all_sent(sessions), timeout=30)
        assert (await svc.client.get("/readyz")).status_code == 200

        await asyncio.to_thread(broker.stop)
        try:
            await _queue(sessions, topic, version=2)

            async def stalled() -> bool:
                answer = await svc.client.get("/readyz")
                progress = answer.json()["checks"]["progress"]
                return answer.status_code == 503 and progress.startswith(
                    "failed: Stalled: relay made no progress"
                )

            await eventually(stalled, timeout=30)
            text = (await svc.client.get("/metrics")).text
            assert 'orderflow_stalled{role="relay",service="probe"} 1.0' in text
            age = REGISTRY.get_sample_value(
                "orderflow_outbox_oldest_unsent_age_seconds", {"service": "probe"}
            )
            assert age is not None and age > 1.0
        finally:
            await asyncio.to_thread(broker.start)

        await eventually(lambda: _all_sent(sessions), timeout=90)

        async def ready() -> bool:
            return (await svc.client.get("/readyz")).status_code == 200

        await eventually(ready, timeout=30)
        assert _stalled_gauge("probe") == 0.0
        last = REGISTRY.get_sample_value(
            "orderflow_outbox_last_success_timestamp_seconds", {"service": "probe"}
        )
        assert last is not None and last > 0
