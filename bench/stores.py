"""What the cluster's stores hold: per-order rows, duplicates, unsent outbox rows, consumer lag.

Each consumer service keeps one row per order in its ``orders`` table (fulfillment's order
aggregate, defects' order facts, analytics' sales read model), keyed by ``amazon_order_id``.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import asyncpg
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from bench.cluster import CONSUMERS, SUBSCRIBES, Cluster
from bench.common import connect as open_connection

ORDER_TABLE = {"fulfillment": "orders", "defects": "orders", "analytics": "orders"}


@contextlib.asynccontextmanager
async def connect(dsn: str) -> AsyncIterator[asyncpg.Connection]:
    conn = await open_connection(dsn)
    try:
        yield conn
    finally:
        await conn.close()


async def count_orders(cluster: Cluster) -> dict[str, int | None]:
    """Rows in each consumer's orders table; None for a store that cannot be reached now."""

    async def one(service: str) -> int | None:
        try:
            async with connect(cluster.dsn(service)) as conn:
                value = await conn.fetchval(f"SELECT count(*) FROM {ORDER_TABLE[service]}")
                return int(value)
        except (OSError, asyncpg.PostgresError, TimeoutError):
            return None

    values = await asyncio.gather(*(one(s) for s in CONSUMERS))
    return dict(zip(CONSUMERS, values, strict=True))


@dataclass
class StoreCheck:
    service: str
    rows: int
    found: int
    missing: int
    extra: int
    duplicate_rows: int
    inbox_order_events: int
    duplicate_effects: int
    dead_letters: int
    unsent_outbox: int

    def ok(self, accepted: int) -> bool:
        return (
            self.rows == accepted
            and self.found == accepted
            and self.missing == 0
            and self.extra == 0
            and self.duplicate_rows == 0
            and self.inbox_order_events == accepted
            and self.duplicate_effects == 0
            and self.dead_letters == 0
            and self.unsent_outbox == 0
        )


async def check_store(cluster: Cluster, service: str, accepted: set[str]) -> StoreCheck:
    table = ORDER_TABLE[service]
    async with connect(cluster.dsn(service)) as conn:
        ids = {r[0] for r in await conn.fetch(f"SELECT amazon_order_id FROM {table}")}
        rows = await conn.fetchval(f"SELECT count(*) FROM {table}")
        dup_rows = await conn.fetchval(
            f"SELECT coalesce(sum(n - 1), 0) FROM (SELECT count(*) n FROM {table} "
            "GROUP BY amazon_order_id HAVING count(*) > 1) d"
        )
        inbox = await conn.fetchval(
            "SELECT count(*) FROM inbox WHERE topic = $1", cluster.topic("orders.v1")
        )
        return StoreCheck(
            service=service,
            rows=int(rows),
            found=len(ids & accepted),
            missing=len(accepted - ids),
            extra=len(ids - accepted),
            duplicate_rows=int(dup_rows),
            inbox_order_events=int(inbox),
            duplicate_effects=await duplicate_effects(conn),
            dead_letters=int(await conn.fetchval("SELECT count(*) FROM dead_letters")),
            unsent_outbox=await unsent(conn),
        )


async def duplicate_effects(conn: asyncpg.Connection) -> int:
    """Events this service published more than once for the same (subject, version, type)."""
    value = await conn.fetchval(
        "SELECT coalesce(sum(n - 1), 0) FROM (SELECT count(*) n FROM outbox "
        "WHERE topic NOT LIKE '%.dlq' GROUP BY message_key, aggregate_version, event_type "
        "HAVING count(*) > 1) d"
    )
    return int(value)


async def unsent(conn: asyncpg.Connection) -> int:
    return int(await conn.fetchval("SELECT count(*) FROM outbox WHERE sent_at IS NULL"))


async def ingest_facts(cluster: Cluster) -> dict[str, int]:
    async with connect(cluster.dsn("ingest")) as conn:
        return {
            "orders": int(await conn.fetchval("SELECT count(*) FROM orders")),
            "order_events": int(
                await conn.fetchval(
                    "SELECT count(*) FROM outbox WHERE topic = $1", cluster.topic("orders.v1")
                )
            ),
            "unsent_outbox": await unsent(conn),
        }


async def _partitions(admin: AIOKafkaAdminClient, topics: list[str]) -> list[TopicPartition]:
    existing = set(await admin.list_topics())
    wanted = [t for t in topics if t in existing]  # describing a missing topic would create it
    described = await admin.describe_topics(wanted) if wanted else []
    return [TopicPartition(d["topic"], p["partition"]) for d in described for p in d["partitions"]]


@contextlib.asynccontextmanager
async def _kafka(bootstrap: str) -> AsyncIterator[tuple[AIOKafkaAdminClient, AIOKafkaConsumer]]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=10_000)
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, request_timeout_ms=10_000)
    await admin.start()
    try:
        await consumer.start()
        try:
            yield admin, consumer
        finally:
            await consumer.stop()
    finally:
        await admin.close()


async def topic_messages(bootstrap: str, topic: str) -> int:
    """Records on ``topic`` (sum of end offsets; the topics are never compacted here)."""
    async with _kafka(bootstrap) as (admin, consumer):
        tps = await _partitions(admin, [topic])
        ends = await consumer.end_offsets(tps) if tps else {}
        return int(sum(ends.values()))


@contextlib.asynccontextmanager
async def publish_watch(cluster: Cluster) -> AsyncIterator[Callable[[], Awaitable[int]]]:
    """Yields ``excess()``: records on ``orders.v1`` minus ingest's outbox rows marked sent."""
    topic = cluster.topic("orders.v1")
    async with _kafka(cluster.infra.kafka.bootstrap) as (admin, consumer):
        tps = await _partitions(admin, [topic])
        async with connect(cluster.dsn("ingest")) as conn:

            async def excess() -> int:
                # Kafka first: sent rows only grow, so a positive difference read in this
                # order means records were on Kafka before their rows were marked sent.
                on_kafka = sum((await consumer.end_offsets(tps)).values())
                sent = await conn.fetchval(
                    "SELECT count(*) FROM outbox WHERE topic = $1 AND sent_at IS NOT NULL", topic
                )
                return int(on_kafka) - int(sent)

            yield excess


async def lags(cluster: Cluster) -> dict[str, int]:
    """Each consumer group's lag: end offsets minus committed offsets over its topics."""
    async with _kafka(cluster.infra.kafka.bootstrap) as (admin, consumer):
        out: dict[str, int] = {}
        for service in CONSUMERS:
            tps = await _partitions(admin, [cluster.topic(t) for t in SUBSCRIBES[service]])
            ends = await consumer.end_offsets(tps) if tps else {}
            committed: dict[Any, Any] = await admin.list_consumer_group_offsets(
                cluster.group(service)
            )
            lag = 0
            for tp, end in ends.items():
                meta = committed.get(tp)
                done = meta.offset if meta is not None and meta.offset >= 0 else 0
                lag += max(0, end - done)
            out[service] = lag
        return out


@dataclass
class Completion:
    """When each store first held every order, and when every lag was zero (wall clock)."""

    store_done: dict[str, float]
    lag_zero_at: float | None
    counts: dict[str, int | None]
    lags: dict[str, int]

    @property
    def done_at(self) -> float | None:
        if self.lag_zero_at is None or len(self.store_done) < len(CONSUMERS):
            return None
        return max(self.lag_zero_at, *self.store_done.values())


async def wait_complete(
    cluster: Cluster, expected: int, *, timeout: float, poll: float = 0.25
) -> Completion:
    """Poll the stores, then the lags, until every store has ``expected`` rows and lag is 0."""
    import time

    deadline = time.monotonic() + timeout
    done: dict[str, float] = {}
    counts: dict[str, int | None] = {}
    lag: dict[str, int] = {}
    while time.monotonic() < deadline:
        counts = await count_orders(cluster)
        now = time.time()
        for service, n in counts.items():
            if n is not None and n >= expected and service not in done:
                done[service] = now
        if len(done) == len(CONSUMERS):
            try:
                lag = await lags(cluster)
            except Exception:  # the broker may be restarting: ask again
                lag = {}
            if lag and not any(lag.values()):
                return Completion(done, time.time(), counts, lag)
        await asyncio.sleep(poll)
    return Completion(done, None, counts, lag)
