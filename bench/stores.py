"""What the cluster's stores hold: per-order rows, duplicates, unsent outbox rows, consumer lag.

Each consumer service keeps one row per order in its ``orders`` table (fulfillment's order
aggregate, defects' order facts, analytics' sales read model), keyed by ``amazon_order_id``.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any

import asyncpg
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from bench.cluster import CONSUMERS, SUBSCRIBES, Cluster
from bench.common import connect as open_connection
from shared.events.orders import SNAPSHOT_TYPES

ORDER_TABLE = {"fulfillment": "orders", "defects": "orders", "analytics": "orders"}


@contextlib.asynccontextmanager
async def connect(dsn: str) -> AsyncIterator[asyncpg.Connection]:
    conn = await open_connection(dsn)
    try:
        yield conn
    finally:
        await conn.close()


async def count_orders(
    cluster: Cluster, services: Iterable[str] = CONSUMERS
) -> dict[str, int | None]:
    """Rows in each consumer's orders table; None for a store that cannot be reached now."""

    async def one(service: str) -> int | None:
        try:
            async with connect(cluster.dsn(service)) as conn:
                value = await conn.fetchval(f"SELECT count(*) FROM {ORDER_TABLE[service]}")
                return int(value)
        except (OSError, asyncpg.PostgresError, TimeoutError):
            return None

    wanted = list(services)
    values = await asyncio.gather(*(one(s) for s in wanted))
    return dict(zip(wanted, values, strict=True))


@dataclass
class StoreCheck:
    service: str
    rows: int
    found: int
    missing: int
    extra: int
    duplicate_rows: int
    # Order snapshots take no inbox row (docs/adr/0057): they are applied once by version.
    snapshot_inbox_rows: int
    # Analytics' event log: one orders.v1 event per order, recorded once (None elsewhere).
    logged_order_events: int | None
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
            and self.snapshot_inbox_rows == 0
            and self.logged_order_events in (None, accepted)
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
        orders_topic = cluster.topic("orders.v1")
        inbox = await conn.fetchval(
            "SELECT count(*) FROM inbox WHERE topic = $1 AND event_type = ANY($2::text[])",
            orders_topic,
            list(SNAPSHOT_TYPES),
        )
        logged = None
        if service == "analytics":
            logged = await conn.fetchval(
                "SELECT count(*) FROM order_events WHERE topic = $1", orders_topic
            )
        return StoreCheck(
            service=service,
            rows=int(rows),
            found=len(ids & accepted),
            missing=len(accepted - ids),
            extra=len(ids - accepted),
            duplicate_rows=int(dup_rows),
            snapshot_inbox_rows=int(inbox),
            logged_order_events=None if logged is None else int(logged),
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


async def partitions(admin: AIOKafkaAdminClient, topics: list[str]) -> list[TopicPartition]:
    existing = set(await admin.list_topics())
    wanted = [t for t in topics if t in existing]  # describing a missing topic would create it
    described = await admin.describe_topics(wanted) if wanted else []
    return [TopicPartition(d["topic"], p["partition"]) for d in described for p in d["partitions"]]


@contextlib.asynccontextmanager
async def kafka_clients(
    bootstrap: str,
) -> AsyncIterator[tuple[AIOKafkaAdminClient, AIOKafkaConsumer]]:
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
    async with kafka_clients(bootstrap) as (admin, consumer):
        tps = await partitions(admin, [topic])
        ends = await consumer.end_offsets(tps) if tps else {}
        return int(sum(ends.values()))


@contextlib.asynccontextmanager
async def publish_watch(cluster: Cluster) -> AsyncIterator[Callable[[], Awaitable[int]]]:
    """Yields ``excess()``: records on ``orders.v1`` minus ingest's outbox rows marked sent."""
    topic = cluster.topic("orders.v1")
    async with kafka_clients(cluster.infra.bootstrap) as (admin, consumer):
        tps = await partitions(admin, [topic])
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
    async with kafka_clients(cluster.infra.bootstrap) as clients:
        by_topic = await _lags_by_topic(cluster, *clients)
    return {service: sum(topics.values()) for service, topics in by_topic.items()}


async def _lags_by_topic(
    cluster: Cluster, admin: AIOKafkaAdminClient, consumer: AIOKafkaConsumer
) -> dict[str, dict[str, int]]:
    """Per consumer service, its group's lag on each topic it subscribes to."""
    out: dict[str, dict[str, int]] = {}
    for service in CONSUMERS:
        tps = await partitions(admin, [cluster.topic(t) for t in SUBSCRIBES[service]])
        ends = await consumer.end_offsets(tps) if tps else {}
        committed: dict[Any, Any] = await admin.list_consumer_group_offsets(cluster.group(service))
        lag: dict[str, int] = {}
        for tp, end in ends.items():
            meta = committed.get(tp)
            done = meta.offset if meta is not None and meta.offset >= 0 else 0
            lag[tp.topic] = lag.get(tp.topic, 0) + max(0, end - done)
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
    """Poll until every store holds ``expected`` orders and every consumer group's lag is 0.

    Each poll asks Kafka for the groups' lags, over clients kept for the whole wait, and counts
    a store's rows only once its group has consumed all of ``orders.v1`` (a service commits its
    offsets right after the applying transaction). Counting every store on every poll, a full
    scan of each ``orders`` table on a new connection, cost PostgreSQL 0.3 CPU seconds per
    second of waiting with 10,000 rows a store and 0.8 with 600,000, on 2 cores: the further
    the consumers fell behind, the more the probe slowed them.
    """
    deadline = time.monotonic() + timeout
    orders = cluster.topic("orders.v1")
    done: dict[str, float] = {}
    counts: dict[str, int | None] = {}
    lag: dict[str, int] = {}
    async with _Lags(cluster) as kafka:
        while time.monotonic() < deadline:
            by_topic = await kafka.by_topic()
            if by_topic is not None:
                lag = {service: sum(topics.values()) for service, topics in by_topic.items()}
                ready = [s for s in CONSUMERS if s not in done and not by_topic[s].get(orders)]
                if ready:
                    counts.update(await count_orders(cluster, ready))
                    now = time.time()
                    done.update({s: now for s in ready if (counts[s] or 0) >= expected})
                if len(done) == len(CONSUMERS) and not any(lag.values()):
                    return Completion(done, time.time(), counts, lag)
            await asyncio.sleep(poll)
    return Completion(done, None, await count_orders(cluster), lag)


class _Lags:
    """Kafka clients for polling the groups' lags, opened again after a failure (the broker
    may be restarting)."""

    def __init__(self, cluster: Cluster) -> None:
        self.cluster = cluster
        self.stack: contextlib.AsyncExitStack | None = None
        self.clients: tuple[AIOKafkaAdminClient, AIOKafkaConsumer] | None = None

    async def __aenter__(self) -> _Lags:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._close()

    async def by_topic(self) -> dict[str, dict[str, int]] | None:
        """Each service's lag per topic, or None if Kafka could not be asked this time."""
        try:
            if self.clients is None:
                self.stack = contextlib.AsyncExitStack()
                self.clients = await self.stack.enter_async_context(
                    kafka_clients(self.cluster.infra.bootstrap)
                )
            return await _lags_by_topic(self.cluster, *self.clients)
        except Exception:  # the broker may be restarting: ask again with new clients
            await self._close()
            return None

    async def _close(self) -> None:
        stack, self.stack, self.clients = self.stack, None, None
        if stack is not None:
            with contextlib.suppress(Exception):
                await stack.aclose()
