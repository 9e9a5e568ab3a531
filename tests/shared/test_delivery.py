"""The delivery guarantees of the shared plumbing, on real Kafka and PostgreSQL.

- A relay that dies after Kafka has the events but before marking them sent publishes them
  again, and the consumer still applies each event once (inbox).
- Poison messages go to ``<topic>.dlq`` with headers saying where they came from and why, and
  the partition keeps flowing; a failing handler is tried a bounded number of times.
- Operators list and replay dead letters over REST; a replay that fails again goes back to the
  dead-letter topic instead of looping.
- An idle relay is woken by the commit that wrote to the outbox (LISTEN/NOTIFY).
- A relay round goes to Kafka as one produce request, and its sent mark commits without
  waiting for the disk (a lost mark only republishes, which the inbox absorbs).
"""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
import pytest
from aiokafka import AIOKafkaProducer
from sqlalchemy import event, func, select
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

from orderflow_testkit.harness import RunningService, eventually, read_topic
from shared import topics
from shared.kafka.client import make_producer
from shared.messaging.decoding import Message
from shared.messaging.envelope import CloudEvent
from shared.messaging.inbox import EventApplier, Position, read_from
from shared.messaging.outbox import add_event, add_events
from shared.messaging.relay import OutboxListener, OutboxRelay

from .conftest import FAILING, ProbeWork, effects, order_event, plumbing

pytestmark = pytest.mark.integration

OPS = {"Authorization": "Bearer ops-key"}


class RelayCrash(Exception):
    pass


def _crash() -> None:
    raise RelayCrash("killed after publishing, before marking sent")


async def _count(svc: RunningService, table: Any, **where: Any) -> int:
    stmt = select(func.count()).select_from(table)
    for column, value in where.items():
        stmt = stmt.where(table.c[column] == value)
    async with svc.resources.sessions() as session:
        return int((await session.execute(stmt)).scalar_one())


async def _produce(svc: RunningService, key: str, *values: bytes) -> None:
    settings = svc.resources.settings
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap_servers)
    await producer.start()
    try:
        for value in values:
            await producer.send_and_wait(settings.topic(topics.ORDERS), value, key=key.encode())
    finally:
        await producer.stop()


async def test_relay_crash_after_publish_republishes_but_applies_once(
    probe: RunningService,
) -> None:
    resources = probe.resources
    event = order_event("111-0000001-0000001")
    async with resources.sessions() as session, session.begin():
        await add_event(
            session, plumbing.outbox, topic=resources.settings.topic(topics.ORDERS), event=event
        )
    producer = make_producer(resources.settings.kafka_bootstrap_servers, client_id="t")
    await producer.start()
    try:
        crashing = OutboxRelay(
            sessions=resources.sessions,
            outbox=plumbing.outbox,
            producer=producer,
            before_mark_sent=_crash,
        )
        with pytest.raises(RelayCrash):
            await crashing.publish_batch()
        restarted = OutboxRelay(
            sessions=resources.sessions, outbox=plumbing.outbox, producer=producer
        )
        assert await restarted.publish_batch() == 1
        assert await restarted.publish_batch() == 0
    finally:
        await producer.stop()

    copies = await read_topic(
        resources.settings.kafka_bootstrap_servers,
        resources.settings.topic(topics.ORDERS),
        until=lambda rs: len(rs) >= 2,
    )
    assert len(copies) == 2 and copies[0].value == copies[1].value
    await eventually(lambda: _count(probe, plumbing.inbox, event_id=event.id))
    assert await _count(probe, effects, event_id=event.id) == 1
    assert await _count(probe, plumbing.outbox) == 1  # marked sent, not duplicated


async def test_a_relay_round_is_one_produce_request_and_its_mark_does_not_wait_for_the_disk(
    probe: RunningService,
) -> None:
    resources = probe.resources
    topic = resources.settings.topic(topics.ORDERS)
    # An engine of the test's own, so the probe's consumer's commits are not counted; its
    # sessions wait for the disk, as in production (the test server does not, for speed).
    engine = create_async_engine(
        resources.settings.database_url,
        connect_args={"server_settings": {"synchronous_commit": "on"}},
    )
    sessions = async_sessionmaker(engine)
    producer = make_producer(resources.settings.kafka_bootstrap_servers, client_id="t")
    await producer.start()
    relay = OutboxRelay(sessions=sessions, outbox=plumbing.outbox, producer=producer)
    requests: list[str] = []
    send = producer.client.send

    def counted(node_id: int, request: Any, **kwargs: Any) -> Any:
        requests.append(type(request).__name__)
        return send(node_id, request, **kwargs)

    committed_with: list[str] = []

    def at_commit(conn: Any) -> None:
        committed_with.append(conn.exec_driver_sql("SHOW synchronous_commit").scalar_one())

    events = [order_event(f"111-0000009-{n:07d}") for n in range(1400)]
    try:
        producer.client.send = counted  # type: ignore[method-assign]
        # A new topic's partitions get their leaders one by one (until then a produce to one
        # is refused and retried): rounds of 60 events, about five a partition, until one goes
        # out in a single request.
        sent = 0
        for _ in range(20):
            requests.clear()
            async with sessions() as session, session.begin():
                await add_events(
                    session, plumbing.outbox, topic=topic, events=events[sent : sent + 60]
                )
            sent += await relay.publish_batch()
            if requests.count("ProduceRequest") == 1:
                break
        requests.clear()
        async with sessions() as session, session.begin():
            await add_events(
                session, plumbing.outbox, topic=topic, events=events[sent : sent + 200]
            )
        event.listen(engine.sync_engine, "commit", at_commit)
        assert await relay.publish_batch() == 200
        async with sessions() as session, session.begin():  # any other transaction
            await session.execute(select(1))
    finally:
        await producer.stop()
        await engine.dispose()

    # One produce request: every row was appended before the producer's sender ran (which is
    # why the producer does not linger: it could only delay the round).
    assert requests.count("ProduceRequest") == 1
    # The relay's own transaction does not wait for its WAL to reach the disk; others do.
    assert committed_with == ["off", "on"]
    copies = await read_topic(
        resources.settings.kafka_bootstrap_servers, topic, until=lambda rs: len(rs) >= sent + 200
    )
    assert sorted(r.key.decode() for r in copies) == sorted(e.subject for e in events[: sent + 200])
    assert await _count(probe, plumbing.outbox, sent_at=None) == 0


async def test_poison_messages_go_to_dlq_with_headers_and_the_partition_keeps_flowing(
    probe: RunningService,
) -> None:
    key = "111-0000002-0000002"
    unknown = order_event(key).model_copy(update={"type": "order.exploded"})
    missing = orjson.loads(order_event(key).to_bytes())
    del missing["data"]["purchase_date"]
    FAILING.add("FAIL-ME")
    await _produce(
        probe,
        key,
        b"{not json",
        unknown.to_bytes(),
        orjson.dumps(missing),
        order_event(key, seller_order_id="FAIL-ME").to_bytes(),
        order_event(key, version=2).to_bytes(),
    )
    await eventually(lambda: _count(probe, effects, amazon_order_id=key))
    await eventually(lambda: _count(probe, plumbing.dead_letters), timeout=30)
    await eventually(lambda: _dead_letter_count_is(probe, 4), timeout=30)

    rows = (await probe.client.get("/v1/dead-letters", headers=OPS)).json()["items"]
    by_error = {r["error_type"]: r for r in rows}
    assert set(by_error) == {"PoisonMessage", "ValueError"}
    assert [r["attempts"] for r in rows if r["error_type"] == "ValueError"] == [3]
    assert all(r["attempts"] == 1 for r in rows if r["error_type"] == "PoisonMessage")
    assert {r["event_type"] for r in rows} == {None, "order.exploded", "order.created"}
    assert await _count(probe, effects, amazon_order_id=key, version=2) == 1

    outbox_dlq = await _relay_all(probe)
    dlq_topic = probe.resources.settings.topic(topics.ORDERS) + ".dlq"
    records = await read_topic(
        probe.resources.settings.kafka_bootstrap_servers, dlq_topic, until=lambda rs: len(rs) >= 4
    )
    assert outbox_dlq == 4 and len(records) == 4
    headers = dict((k, v.decode()) for k, v in records[0].headers)
    assert headers["x-dlq-origin-topic"] == probe.resources.settings.topic(topics.ORDERS)
    assert headers["x-dlq-service"] == "probe"
    assert {
        "x-dlq-origin-partition",
        "x-dlq-origin-offset",
        "x-dlq-error-type",
        "x-dlq-error-message",
        "x-dlq-attempts",
    } <= set(headers)
    assert records[0].value == b"{not json"


async def _dead_letter_count_is(svc: RunningService, n: int) -> bool:
    return await _count(svc, plumbing.dead_letters) == n


async def _relay_all(svc: RunningService) -> int:
    resources = svc.resources
    producer = make_producer(resources.settings.kafka_bootstrap_servers, client_id="t")
    await producer.start()
    try:
        relay = OutboxRelay(sessions=resources.sessions, outbox=plumbing.outbox, producer=producer)
        total = 0
        while sent := await relay.publish_batch():
            total += sent
        return total
    finally:
        await producer.stop()


async def test_operators_replay_dead_letters_and_a_failing_replay_does_not_loop(
    probe: RunningService,
) -> None:
    key = "111-0000003-0000003"
    FAILING.add("FLAKY")
    await _produce(probe, key, order_event(key, seller_order_id="FLAKY").to_bytes())
    await eventually(lambda: _dead_letter_count_is(probe, 1), timeout=30)
    [dead] = (await probe.client.get("/v1/dead-letters", headers=OPS)).json()["items"]

    assert (await probe.client.get("/v1/dead-letters")).status_code == 401
    seller = {"Authorization": "Bearer seller-key"}
    assert (await probe.client.get("/v1/dead-letters", headers=seller)).status_code == 403

    again = await probe.client.post(f"/v1/dead-letters/{dead['id']}/replay", headers=OPS)
    assert again.json()["result"] == "failed_again"
    listed = (await probe.client.get(f"/v1/dead-letters/{dead['id']}", headers=OPS)).json()
    assert (listed["status"], listed["replay_count"]) == ("dead", 1)
    assert await _count(probe, plumbing.dead_letters) == 1  # the same letter, not a new one
    assert await _relay_all(probe) == 2  # first failure and failed replay, both to the .dlq

    FAILING.discard("FLAKY")
    replayed = await probe.client.post("/v1/dead-letters/replay", headers=OPS)
    assert replayed.json()["replayed"] == 1
    assert await _count(probe, effects, amazon_order_id=key) == 1
    done = (await probe.client.get(f"/v1/dead-letters/{dead['id']}", headers=OPS)).json()
    assert done["status"] == "replayed"
    replay_twice = await probe.client.post(f"/v1/dead-letters/{dead['id']}/replay", headers=OPS)
    assert replay_twice.status_code == 409


async def test_types_idempotent_by_version_take_no_inbox_row_and_handlers_see_their_position(
    probe: RunningService,
) -> None:
    seen: list[tuple[str, Position | None]] = []

    async def note(uow: Any, event: CloudEvent, payload: Any) -> None:
        seen.append((event.type, read_from(event)))

    applier = EventApplier(
        tables=plumbing,
        handlers={"order.created": note, "order.updated": note},
        unit_of_work=ProbeWork.joining,
        by_version={"order.created"},
    )
    topic = probe.resources.settings.topic(topics.ORDERS)
    created = order_event("111-0000008-0000001")
    updated = order_event("111-0000008-0000001", version=2)  # here, as if a fact: claimed

    def records(first: int) -> list[Message]:
        return [
            Message(topic, 3, first + n, e.subject, e.to_bytes())
            for n, e in enumerate((created, updated))
        ]

    for first in (10, 20):  # the same two events published twice, at other offsets
        async with probe.resources.sessions() as session, session.begin():
            await applier.apply_many(session, records(first))

    assert seen == [
        ("order.created", Position(topic, 3, 10)),
        ("order.updated", Position(topic, 3, 11)),
        ("order.created", Position(topic, 3, 20)),  # not claimed: applied again (by version)
    ]
    assert await _count(probe, plumbing.inbox, event_id=created.id) == 0
    assert await _count(probe, plumbing.inbox, event_id=updated.id) == 1
    assert read_from(created) is None  # only while the applier runs the handlers
    async with probe.resources.sessions() as session, session.begin():  # one by one, as replay
        assert await applier.apply(session, records(30)[0])
        assert not await applier.apply(session, records(30)[1])
    assert seen[-1] == ("order.created", Position(topic, 3, 30))


async def test_a_redelivered_poison_message_is_dead_lettered_once(probe: RunningService) -> None:
    from shared.messaging.decoding import Message

    poison = Message(probe.resources.settings.topic(topics.ORDERS), 3, 42, "k", b"{oops")
    applier = probe.resources.applier
    for _ in range(2):  # e.g. redelivered after a rebalance, before the offset commit
        async with probe.resources.sessions() as session, session.begin():
            await applier.dead_letter(session, poison, ValueError("bad"), 1, "probe")
    assert await _count(probe, plumbing.dead_letters) == 1
    assert await _count(probe, plumbing.outbox) == 1


@pytest.mark.parametrize("topic", [topics.ORDERS, topics.FULFILLMENT, topics.DEFECTS, topics.ADS])
async def test_poison_on_every_topic_including_an_oversized_one_is_dead_lettered(
    probe: RunningService, topic: str
) -> None:
    settings = probe.resources.settings
    key = f"poison-{topic}"
    producer = AIOKafkaProducer(
        bootstrap_servers=settings.kafka_bootstrap_servers, max_request_size=1_048_576
    )
    await producer.start()
    try:
        for value in (b"[1, 2", orjson.dumps({"specversion": "1.0"}), b"x" * 950_000):
            await producer.send_and_wait(settings.topic(topic), value, key=key.encode())
    finally:
        await producer.stop()

    async def letters() -> list[dict[str, Any]]:
        rows = (await probe.client.get("/v1/dead-letters?limit=200", headers=OPS)).json()
        return [r for r in rows["items"] if r["key"] == key]

    found = await eventually(lambda: _all_three(letters), timeout=60)
    assert {r["topic"] for r in found} == {settings.topic(topic)}
    assert any("950000 bytes is over" in r["error_message"] for r in found)
    assert await _relay_all(probe) >= 3  # and each went on to <topic>.dlq


async def _all_three(letters: Any) -> list[dict[str, Any]] | None:
    found: list[dict[str, Any]] = await letters()
    return found if len(found) == 3 else None


async def test_an_idle_relay_is_woken_by_the_commit_not_by_its_next_poll(
    probe: RunningService,
) -> None:
    """The relay polls an idle outbox every 10 s here; a commit's NOTIFY wakes it at once."""
    resources = probe.resources
    wakeup, stop = asyncio.Event(), asyncio.Event()
    listener = asyncio.ensure_future(
        OutboxListener(resources.settings.database_url, wakeup).run(stop)
    )
    producer = make_producer(resources.settings.kafka_bootstrap_servers, client_id="t-wake")
    await producer.start()
    relay = OutboxRelay(
        sessions=resources.sessions,
        outbox=plumbing.outbox,
        producer=producer,
        idle_seconds=10.0,
        wakeup=wakeup,
    )
    running = asyncio.ensure_future(relay.run())
    try:
        await asyncio.sleep(1.0)  # the relay found nothing and sleeps for 10 s
        event = order_event("111-0000001-0000077")
        async with resources.sessions() as session, session.begin():
            await add_events(
                session,
                plumbing.outbox,
                topic=resources.settings.topic(topics.ORDERS),
                events=[event],
            )

        async def sent() -> bool:
            o = plumbing.outbox.c
            async with resources.sessions() as session:
                stmt = select(o.sent_at).where(o.event_id == event.id)
                return (await session.execute(stmt)).scalar() is not None

        await eventually(sent, timeout=5.0)  # well before the 10 s poll
    finally:
        relay.stop()
        stop.set()
        await asyncio.gather(running, listener)
        await producer.stop()
