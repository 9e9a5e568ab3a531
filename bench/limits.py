"""The limit the platform is measured against: the same payloads through bare clients.

Kafka: an ``aiokafka`` producer with the platform's delivery settings (idempotent,
``acks=all``) sends every order document to a fresh 12-partition topic, then one consumer reads
them all back. PostgreSQL: ``asyncpg`` writes the same rows (id, JSONB document) into a bare
table, one transaction per batch, with ``COPY`` and with ``executemany``. No services, no ORM.
The pipeline (``pipeline_limit``): both at once along the platform's data path, an intake
writing and producing and three stores consuming and writing, each in its own process.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

import asyncpg
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from bench.cluster import CONSUMERS, Cluster, Infra, cpu_seconds
from bench.common import connect
from bench.loadgen import build_orders, order_ids
from shared.kafka.client import make_consumer, make_producer

PARTITIONS = 12
WARM_UP = b"warm-up"  # the key and value of one record per partition, sent before the clock


@dataclass(frozen=True)
class KafkaLimit:
    orders: int
    payload_bytes_avg: int
    produce_per_s: float
    consume_per_s: float
    produce_then_consume_per_s: float


@dataclass(frozen=True)
class PostgresLimit:
    orders: int
    batch_size: int
    copy_per_s: float
    executemany_per_s: float


@dataclass(frozen=True)
class PipelineCpu:
    seconds: dict[str, float]  # per process: the servers' and each stage's
    ms_per_order: float


@dataclass(frozen=True)
class PipelineLimit:
    orders: int
    batch_size: int
    stages: list[str]
    per_s: float  # through all three stores
    intake_per_s: float
    cpu: PipelineCpu


async def kafka_limit(infra: Infra, tag: str, n: int) -> KafkaLimit:
    bootstrap = infra.kafka.bootstrap
    topic = f"{tag}.bare.orders"
    ids = order_ids("9999999", n)
    bodies = build_orders("9999999", n)
    await _create_topic(bootstrap, topic)
    produce_s = await _produce_all(bootstrap, topic, ids, bodies)
    consume_s = await _consume_all(bootstrap, topic, f"{tag}.bare", n + PARTITIONS)
    return KafkaLimit(
        orders=n,
        payload_bytes_avg=round(sum(map(len, bodies)) / n),
        produce_per_s=round(n / produce_s, 1),
        consume_per_s=round(n / consume_s, 1),
        produce_then_consume_per_s=round(n / (produce_s + consume_s), 1),
    )


async def _produce_all(bootstrap: str, topic: str, ids: list[str], bodies: list[bytes]) -> float:
    """Seconds to send every order (after a warm-up record to each partition) and have every
    one acknowledged."""
    producer = make_producer(bootstrap, client_id="bench-bare")
    await producer.start()
    try:
        await _warm_up(producer, topic)
        started = time.perf_counter()
        futures = [
            await producer.send(topic, value=b, key=k.encode())
            for k, b in zip(ids, bodies, strict=True)
        ]
        for future in futures:
            await future
        return time.perf_counter() - started
    finally:
        await producer.stop()


async def _consume_all(bootstrap: str, topic: str, group: str, records: int) -> float:
    """Seconds for one consumer to read ``records`` records of ``topic`` from the start."""
    consumer = make_consumer(bootstrap, group_id=group, topics=[topic], client_id="bench")
    await consumer.start()
    try:
        started = time.perf_counter()
        seen = 0
        while seen < records:  # the orders and the warm-up records
            batches = await consumer.getmany(timeout_ms=500, max_records=10_000)
            seen += sum(len(found) for found in batches.values())
        return time.perf_counter() - started
    finally:
        await consumer.stop()


async def postgres_limit(infra: Infra, tag: str, n: int, batch_size: int) -> PostgresLimit:
    database = f"{tag}_bare"
    infra.postgres.create_database(database)
    ids = order_ids("9999998", n)
    bodies = [b.decode() for b in build_orders("9999998", n)]
    rows = list(zip(ids, bodies, strict=True))
    conn = await connect(infra.dsn(database))
    try:
        copy_s = await _write_all(conn, "copy", rows, batch_size)
        executemany_s = await _write_all(conn, "executemany", rows, batch_size)
    finally:
        await conn.close()
    return PostgresLimit(
        orders=n,
        batch_size=batch_size,
        copy_per_s=round(n / copy_s, 1),
        executemany_per_s=round(n / executemany_s, 1),
    )


async def _write_all(
    conn: asyncpg.Connection, method: str, rows: list[tuple[str, str]], batch_size: int
) -> float:
    """Seconds to write ``rows`` into a fresh table ``bare_<method>`` by ``method`` (``copy``
    or ``executemany``), a transaction a batch."""
    table = f"bare_{method}"
    await _create_table(conn, table)
    started = time.perf_counter()
    for i in range(0, len(rows), batch_size):
        chunk = rows[i : i + batch_size]
        async with conn.transaction():
            if method == "copy":
                await conn.copy_records_to_table(
                    table, records=chunk, columns=["amazon_order_id", "doc"]
                )
            else:
                await conn.executemany(
                    f"INSERT INTO {table} (amazon_order_id, doc) VALUES ($1, $2::jsonb)",
                    chunk,
                )
    return time.perf_counter() - started


# The bare pipeline: the platform's data path, by bare clients, one process a stage; a store
# for each consumer service.
STORES = CONSUMERS


async def pipeline_limit(infra: Infra, tag: str, n: int, batch_size: int) -> PipelineLimit:
    """The Kafka-plus-PostgreSQL work every order costs on its way through the platform, with
    no service code: an intake process writes each batch of orders (id, JSONB document) into
    its table in one transaction and then produces them (idempotent, ``acks=all``) to a
    12-partition topic; three store processes, one consumer group each, write what every fetch
    brings into their own table in one transaction and then commit the offsets. All four run
    at once, as the services do. Figures: orders/s through all three stores and the CPU per
    order (the four processes, PostgreSQL and the broker), against which ``ratios`` sets the
    platform's. Everything the platform does beyond this (validation, the outbox and its
    relay, the inbox, the events' envelopes, the stores' own tables and indexes, HTTP) is
    what the ratio measures."""
    database = f"{tag}_pipe"
    infra.postgres.create_database(database)
    dsn, bootstrap, topic = infra.dsn(database), infra.kafka.bootstrap, f"{tag}.pipe.orders"
    conn = await connect(dsn)
    try:
        for table in ("intake", *STORES):
            await _create_table(conn, table)
    finally:
        await conn.close()
    await _create_topic(bootstrap, topic)
    stages = _Stages(dsn, bootstrap, topic, tag, n, batch_size)
    servers = Cluster(infra, tag)  # no services: cpu_seconds reads Kafka and PostgreSQL
    started, finished, cpu = await stages.run(servers)
    done = {name: at for name, at, _ in finished}
    cpu |= {f"pipe-{name}": round(seconds, 2) for name, _, seconds in finished}
    return PipelineLimit(
        orders=n,
        batch_size=batch_size,
        stages=["intake", *STORES],
        per_s=round(n / (max(done.values()) - started), 1),
        intake_per_s=round(n / (done["intake"] - started), 1),
        cpu=PipelineCpu(seconds=cpu, ms_per_order=round(sum(cpu.values()) * 1000 / n, 3)),
    )


class _Stages:
    """The pipeline's four processes (spawned), started together once every store has its
    partitions."""

    def __init__(
        self, dsn: str, bootstrap: str, topic: str, tag: str, n: int, batch_size: int
    ) -> None:
        spawn = multiprocessing.get_context("spawn")
        self.n = n
        self.ready, self.go, self.results = (
            spawn.Barrier(len(STORES) + 2),
            spawn.Event(),
            spawn.Queue(),
        )
        sync = (self.ready, self.go, self.results)
        self.procs = [
            spawn.Process(
                target=_stage,
                args=(_store, (dsn, bootstrap, topic, f"{tag}.pipe.{store}", store, n), *sync),
                name=f"pipe-{store}",
            )
            for store in STORES
        ]
        self.procs.append(
            spawn.Process(
                target=_stage,
                args=(_intake, (dsn, bootstrap, topic, n, batch_size), *sync),
                name="pipe-intake",
            )
        )

    async def run(
        self, servers: Cluster
    ) -> tuple[float, list[tuple[str, float, float]], dict[str, float]]:
        """Wall time at the start, each stage's (name, wall time finished, CPU seconds), and
        the CPU seconds the servers spent meanwhile."""
        for proc in self.procs:
            proc.start()
        try:
            await asyncio.to_thread(self.ready.wait, 120)  # every consumer has its partitions
            cpu_before = cpu_seconds(servers)
            started = time.time()
            self.go.set()
            timeout = max(300.0, self.n / 100)
            finished: list[tuple[str, float, float]] = [
                await asyncio.to_thread(self.results.get, True, timeout) for _ in self.procs
            ]
            cpu_after = cpu_seconds(servers)
        finally:
            for proc in self.procs:
                proc.join(timeout=30)
                if proc.is_alive():
                    proc.kill()
        cpu = {k: round(cpu_after[k] - cpu_before.get(k, 0.0), 2) for k in cpu_after}
        return started, finished, cpu


async def _create_table(conn: Any, table: str) -> None:
    """A bare table of the order documents: (id, JSONB document, when written)."""
    await conn.execute(
        f"CREATE TABLE {table} (amazon_order_id text PRIMARY KEY, doc jsonb NOT NULL, "
        "created_at timestamptz NOT NULL DEFAULT now())"
    )


async def _create_topic(bootstrap: str, topic: str) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics(
            [NewTopic(topic, num_partitions=PARTITIONS, replication_factor=1)]
        )
    finally:
        await admin.close()


async def _warm_up(producer: Any, topic: str) -> None:
    """A record to each partition of a new topic, so its leaders are known before the clock
    starts."""
    for partition in range(PARTITIONS):
        await (await producer.send(topic, value=WARM_UP, key=WARM_UP, partition=partition))


def _stage(
    work: Callable[..., Coroutine[Any, Any, tuple[str, float]]],
    args: tuple[Any, ...],
    ready: Any,
    go: Any,
    results: Any,
) -> None:
    """One stage in its own process: ``work`` waits at ``ready`` when set up and returns its
    name and its CPU time when it started work; puts (the name, the wall time it finished, the
    CPU seconds since it started work) on ``results``."""
    name, cpu_at_start = asyncio.run(work(*args, ready=ready, go=go))
    results.put((name, time.time(), time.process_time() - cpu_at_start))


async def _intake(
    dsn: str, bootstrap: str, topic: str, n: int, batch_size: int, *, ready: Any, go: Any
) -> tuple[str, float]:
    ids = order_ids("9999997", n)
    rows = list(zip(ids, (b.decode() for b in build_orders("9999997", n)), strict=True))
    conn = await connect(dsn)
    producer = make_producer(bootstrap, client_id="bench-pipe")
    await producer.start()
    try:
        await _warm_up(producer, topic)
        await asyncio.to_thread(ready.wait)
        await asyncio.to_thread(go.wait)
        cpu_at_start = time.process_time()
        sent: list[Any] = []
        for i in range(0, n, batch_size):
            chunk = rows[i : i + batch_size]
            async with conn.transaction():
                await conn.copy_records_to_table(
                    "intake", records=chunk, columns=["amazon_order_id", "doc"]
                )
            await asyncio.gather(*sent)  # the previous batch is on Kafka; this one goes now
            sent = [
                await producer.send(topic, value=doc.encode(), key=oid.encode())
                for oid, doc in chunk
            ]
        await asyncio.gather(*sent)
    finally:
        await producer.stop()
        await conn.close()
    return "intake", cpu_at_start


async def _store(
    dsn: str, bootstrap: str, topic: str, group: str, table: str, n: int, *, ready: Any, go: Any
) -> tuple[str, float]:
    conn = await connect(dsn)
    consumer = make_consumer(bootstrap, group_id=group, topics=[topic], client_id=group)
    await consumer.start()
    try:
        while not consumer.assignment():
            await consumer.getmany(timeout_ms=100)
        await asyncio.to_thread(ready.wait)
        cpu_at_start = time.process_time()
        seen = 0
        while seen < n:
            fetched = await consumer.getmany(timeout_ms=500, max_records=5000)
            rows = [
                (r.key.decode(), r.value.decode())
                for records in fetched.values()
                for r in records
                if r.key != WARM_UP
            ]
            if rows:
                async with conn.transaction():
                    await conn.copy_records_to_table(
                        table, records=rows, columns=["amazon_order_id", "doc"]
                    )
            if fetched:
                await consumer.commit()
            seen += len(rows)
    finally:
        await consumer.stop()
        await conn.close()
    return table, cpu_at_start
