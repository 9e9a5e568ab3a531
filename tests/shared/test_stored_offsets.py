"""Consumer offsets stored with the data (docs/adr/0057-offsets-stored-with-the-data.md), on
real Kafka and PostgreSQL.

The runner stores each partition's next offset in the transaction of the effects and drops
records below it, so a record read again (a restart before the Kafka commit, a seek back, a
consumer that lost its partition and does not know it yet) is not applied again, even where
no inbox row would catch it (the tests delete the inbox rows to show it is the stored offset
that does). On assignment the consumer resumes from the stored offsets, whatever Kafka's
committed offset says.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import CommitFailedError
from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import create_async_engine

from orderflow_testkit.harness import RunningService, eventually, read_topic, running_service
from shared import metrics, topics
from shared.kafka.client import make_consumer
from shared.messaging.decoding import Message
from shared.messaging.runner import ConsumerRunner
from shared.runtime import group_id
from shared.settings import ServiceSettings

from .conftest import PROBE, effects, metadata, order_event, plumbing

pytestmark = pytest.mark.integration


@pytest.fixture
async def probe_db(probe_settings: ServiceSettings) -> AsyncIterator[ServiceSettings]:
    engine = create_async_engine(probe_settings.database_url)
    async with engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
    await engine.dispose()
    yield probe_settings


async def _produce(settings: ServiceSettings, key: str, *versions: int) -> None:
    from aiokafka import AIOKafkaProducer

    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap_servers)
    await producer.start()
    try:
        for version in versions:
            event = order_event(key, version=version)
            await producer.send_and_wait(
                settings.topic(topics.ORDERS), event.to_bytes(), key=key.encode()
            )
    finally:
        await producer.stop()


async def _effects(svc: RunningService, key: str | None = None) -> list[int]:
    stmt = select(effects.c.version).order_by(effects.c.id)
    if key is not None:
        stmt = stmt.where(effects.c.amazon_order_id == key)
    async with svc.resources.sessions() as session:
        return list((await session.execute(stmt)).scalars())


async def _forget_inbox(svc: RunningService) -> None:
    """Delete the inbox rows: from here only the stored offsets can tell a repeat."""
    async with svc.resources.sessions() as session, session.begin():
        await session.execute(delete(plumbing.inbox))


async def _stored(svc: RunningService) -> dict[int, int]:
    o = plumbing.consumer_offsets.c
    async with svc.resources.sessions() as session:
        rows = await session.execute(select(o.kafka_partition, o.next_offset))
        return {p: n for p, n in rows.all()}


async def _kafka_committed(settings: ServiceSettings, name: str) -> dict[TopicPartition, int]:
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap_servers)
    await admin.start()
    try:
        offsets = await admin.list_consumer_group_offsets(group_id(name, settings))
        return {tp: meta.offset for tp, meta in offsets.items()}
    finally:
        await admin.close()


async def test_a_restart_after_a_lost_kafka_commit_resumes_from_the_stored_offset(
    probe_db: ServiceSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = "111-0000009-0000001"

    async def lost(self: AIOKafkaConsumer, offsets: Any = None) -> None:
        raise CommitFailedError("the group rebalanced")

    with monkeypatch.context() as patched:
        patched.setattr(AIOKafkaConsumer, "commit", lost)
        async with running_service(PROBE, probe_db, roles=("worker",), migrate=False) as svc:
            await _produce(probe_db, key, 1, 2, 3)
            await eventually(lambda: _count_is(svc, key, 3))
            assert list((await _stored(svc)).values()) == [3]
            await _forget_inbox(svc)
    assert await _kafka_committed(probe_db, PROBE.name) == {}  # Kafka never heard of them

    repeated = metrics.CONSUMED.labels(PROBE.name, probe_db.topic(topics.ORDERS), "repeated")
    repeated_before = repeated._value.get()
    async with running_service(PROBE, probe_db, roles=("worker",), migrate=False) as svc:
        await _produce(probe_db, key, 4)
        await eventually(lambda: _count_is(svc, key, 4))
        await asyncio.sleep(1.0)  # time for a wrong re-apply to show
        assert await _effects(svc, key) == [1, 2, 3, 4]
        # It sought to the stored offset on assignment: nothing was even read again.
        assert repeated._value.get() == repeated_before
        assert list((await _stored(svc)).values()) == [4]
        committed = await eventually(lambda: _kafka_committed(probe_db, PROBE.name))
        assert list(committed.values()) == [4]  # operators' lag tools still see it


async def _count_is(svc: RunningService, key: str, count: int) -> bool:
    return len(await _effects(svc, key)) >= count


async def test_records_read_again_after_a_seek_back_are_not_applied_twice(
    probe_db: ServiceSettings,
) -> None:
    key = "111-0000009-0000002"
    async with running_service(PROBE, probe_db, roles=(), migrate=False) as svc:
        consumer = make_consumer(
            probe_db.kafka_bootstrap_servers,
            group_id=group_id(PROBE.name, probe_db),
            topics=[probe_db.topic(topics.ORDERS)],
            client_id="seek-back",
        )
        runner = ConsumerRunner(
            consumer=consumer,
            sessions=svc.resources.sessions,
            applier=svc.resources.applier,
            service=PROBE.name,
        )
        runner.subscribe([probe_db.topic(topics.ORDERS)])
        await consumer.start()
        task = asyncio.ensure_future(runner.run())
        try:
            await _produce(probe_db, key, 1, 2, 3)
            await eventually(lambda: _count_is(svc, key, 3))
            await _forget_inbox(svc)
            topic = probe_db.topic(topics.ORDERS)
            repeated = metrics.CONSUMED.labels(PROBE.name, topic, "repeated")
            repeated_before = repeated._value.get()
            for tp in consumer.assignment():
                consumer.seek(tp, 0)  # every record of the partition comes again
            await _produce(probe_db, key, 4)
            await eventually(lambda: _count_is(svc, key, 4))
            await asyncio.sleep(1.0)
            assert await _effects(svc, key) == [1, 2, 3, 4]
            assert repeated._value.get() == repeated_before + 3  # read again, dropped
        finally:
            runner.stop()
            await task
            await consumer.stop()


class Zombie:
    """A consumer that lost its partitions in a rebalance it has not noticed: it hands over
    the batch it fetched before, once, and its Kafka commit is refused."""

    def __init__(self, records: list[ConsumerRecord[bytes, bytes]]) -> None:
        self.batch: dict[TopicPartition, list[ConsumerRecord[bytes, bytes]]] = {}
        for record in records:
            self.batch.setdefault(TopicPartition(record.topic, record.partition), []).append(record)
        self.runner: ConsumerRunner | None = None

    async def getmany(self, **_: Any) -> dict[TopicPartition, list[Any]]:
        batch, self.batch = self.batch, {}
        if not batch and self.runner is not None:
            self.runner.stop()
        return batch

    async def commit(self, offsets: Any = None) -> None:
        raise CommitFailedError("not a member of the group any more")


@pytest.mark.parametrize("size", [3, 1], ids=["together", "one-by-one"])
async def test_a_zombie_consumers_batch_after_its_partition_moved_is_not_applied(
    probe_db: ServiceSettings, size: int
) -> None:
    key = f"111-0000009-00000{size:02d}"
    async with running_service(PROBE, probe_db, roles=("worker",), migrate=False) as svc:
        await _produce(probe_db, key, *range(1, size + 1))
        await eventually(lambda: _count_is(svc, key, size))  # the new owner applied them
    # The zombie still holds the batch it fetched before the partition moved.
    records = await read_topic(
        probe_db.kafka_bootstrap_servers,
        probe_db.topic(topics.ORDERS),
        until=lambda rs: len(rs) >= size,
    )
    async with running_service(PROBE, probe_db, roles=(), migrate=False) as svc:
        await _forget_inbox(svc)
        zombie = Zombie(records)
        runner = ConsumerRunner(
            consumer=zombie,  # type: ignore[arg-type]
            sessions=svc.resources.sessions,
            applier=svc.resources.applier,
            service=PROBE.name,
        )
        zombie.runner = runner
        await asyncio.wait_for(runner.run(), 30)
        assert await _effects(svc, key) == list(range(1, size + 1))


async def test_a_dead_lettered_record_stores_its_offset_and_is_dead_lettered_once(
    probe_db: ServiceSettings,
) -> None:
    async with running_service(PROBE, probe_db, roles=(), migrate=False) as svc:
        topic = probe_db.topic(topics.ORDERS)
        poison = Message(topic, 2, 7, "k", b"{not json")
        for _ in range(2):  # the second time: read again after a lost Kafka commit
            zombie = Zombie([])
            zombie.batch = {TopicPartition(topic, 2): [_record(poison)]}
            runner = ConsumerRunner(
                consumer=zombie,  # type: ignore[arg-type]
                sessions=svc.resources.sessions,
                applier=svc.resources.applier,
                service=PROBE.name,
            )
            zombie.runner = runner
            await asyncio.wait_for(runner.run(), 30)
        async with svc.resources.sessions() as session:
            count = select(func.count()).select_from(plumbing.dead_letters)
            assert (await session.execute(count)).scalar_one() == 1
        assert await _stored(svc) == {2: 8}


def _record(message: Message) -> ConsumerRecord[bytes, bytes]:
    return ConsumerRecord(
        topic=message.topic,
        partition=message.partition,
        offset=message.offset,
        timestamp=0,
        timestamp_type=0,
        key=(message.key or "").encode(),
        value=message.value,
        checksum=None,
        serialized_key_size=1,
        serialized_value_size=len(message.value),
        headers=(),
    )
