"""Scale-out: two instances of each consumer service in one consumer group, one of
each stopped mid-stream, every order applied exactly once, the survivor catches up.

Processes (all real, ``python -m <svc> <role>``): ingest ``all``; for fulfillment, defects and
analytics one ``all`` (API, relay, background jobs and a worker) and one ``worker``, both on
the service's one database and the same topic prefix, hence one consumer group of two members
per service. While ingest takes ORDERS orders in batches, the ``worker`` instances stop: SIGTERM
for fulfillment and defects (clean leave: the group rebalances at once), ``kill -9`` for
analytics (the group notices after its session timeout; what the killed process had applied
but not committed to Kafka is delivered again and dropped by its stored offset). Then each
service's store must hold every order exactly once and its group must have no lag left.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from orderflow_testkit.samples import amazon_order

from .conftest import KEYS, PII_KEY, free_port, wait_ready

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]

ORDERS = int(os.environ.get("SCALE_OUT_ORDERS", "3000"))
BATCH = 500
CONSUMERS = {  # service -> topics its group reads
    "fulfillment": ("orders.v1",),
    "defects": ("orders.v1", "fulfillment.v1"),
    "analytics": ("orders.v1", "fulfillment.v1", "defects.v1", "ads.v1"),
}
HARD_KILLED = "analytics"
A = {"Authorization": "Bearer k-seller"}


@dataclass
class Proc:
    name: str
    role: str
    popen: subprocess.Popen[bytes]
    log: Path
    url: str | None = None


@pytest.fixture
def cluster(
    make_database: Callable[[str], str], kafka_bootstrap: str, topic_prefix: str, tmp_path: Path
) -> Iterator[tuple[Callable[..., Proc], dict[str, str], str]]:
    """``spawn(service, role, database_url)``; every process is stopped after the test."""
    prefix = f"{topic_prefix}so{tmp_path.name[-8:]}."
    base = {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
        "KAFKA_TOPIC_PREFIX": prefix,
        "ORDERFLOW_API_KEYS": KEYS,
        "ORDERFLOW_PII_KEY": PII_KEY,
        "RATE_LIMIT_PER_SECOND": "100000",
        "RATE_LIMIT_BURST": "100000",
    }
    procs: list[Proc] = []

    def spawn(name: str, role: str, database_url: str) -> Proc:
        port = free_port()
        env = {**base, "DATABASE_URL": database_url, "HTTP_PORT": str(port)}
        log = tmp_path / f"{name}-{role}-{len(procs)}.log"
        with log.open("wb") as out:
            popen = subprocess.Popen(
                [sys.executable, "-m", name, role], env=env, stdout=out, stderr=subprocess.STDOUT
            )
        proc = Proc(name, role, popen, log, f"http://127.0.0.1:{port}" if role == "all" else None)
        procs.append(proc)
        return proc

    # Migrate the four databases side by side (each `migrate` is a Python start-up).
    databases = {name: make_database(f"{name}_so") for name in ("ingest", *CONSUMERS)}
    migrations = [
        subprocess.Popen(
            [sys.executable, "-m", name, "migrate"],
            env={**base, "DATABASE_URL": url},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        for name, url in databases.items()
    ]
    for migration in migrations:
        output, _ = migration.communicate(timeout=120)
        assert migration.returncode == 0, output.decode(errors="replace")[-3000:]
    yield spawn, databases, prefix
    for proc in procs:
        if proc.popen.poll() is None:
            proc.popen.send_signal(signal.SIGTERM)
    for proc in procs:
        if proc.popen.returncode == -signal.SIGKILL:
            continue
        try:
            code = proc.popen.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.popen.kill()
            raise
        assert code == 0, f"{proc.name} {proc.role} exited {code}:\n{proc.log.read_text()[-3000:]}"


async def _group_members(bootstrap: str, group: str) -> int:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        [response] = await admin.describe_consumer_groups([group])
        [described] = response.groups
        state, members = described[2], described[5]
        return len(members) if state == "Stable" else -1
    finally:
        await admin.close()


async def _lag(bootstrap: str, group: str, topics: list[str]) -> dict[str, int]:
    """Lag per topic over all its partitions (a partition never committed lags by its end)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap)
    await admin.start()
    await consumer.start()
    try:
        committed = await admin.list_consumer_group_offsets(group)
        partitions = [
            TopicPartition(t, p)
            for t in topics
            for p in sorted(consumer.partitions_for_topic(t) or await _partitions(consumer, t))
        ]
        ends = await consumer.end_offsets(partitions)
        lag: dict[str, int] = {}
        for tp in partitions:
            done = committed[tp].offset if tp in committed else 0
            lag[tp.topic] = lag.get(tp.topic, 0) + ends[tp] - max(done, 0)
        return lag
    finally:
        await consumer.stop()
        await admin.close()


async def _partitions(consumer: AIOKafkaConsumer, topic: str) -> set[int]:
    await consumer._client.force_metadata_update()  # aiokafka has no public call
    return consumer.partitions_for_topic(topic) or set()


async def _rows(url: str, sql: str) -> Any:
    engine = create_async_engine(url)
    try:
        async with engine.connect() as conn:
            return (await conn.execute(text(sql))).all()
    finally:
        await engine.dispose()


async def _count(url: str, sql: str) -> int:
    return int((await _rows(url, sql))[0][0])


async def _wait(check: Callable[[], Any], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = await check()
        if last is True:
            return
        await asyncio.sleep(0.5)
    raise AssertionError(f"{what} not reached in {timeout}s: {last}")


async def test_two_workers_per_service_one_stopped_mid_stream_every_order_once(
    cluster: tuple[Callable[..., Proc], dict[str, str], str], kafka_bootstrap: str
) -> None:
    spawn, databases, prefix = cluster
    started = time.monotonic()
    ingest = spawn("ingest", "all", databases["ingest"])
    primaries = {name: spawn(name, "all", databases[name]) for name in CONSUMERS}
    seconds = {name: spawn(name, "worker", databases[name]) for name in CONSUMERS}
    for proc in (ingest, *primaries.values()):
        assert proc.url
        await asyncio.to_thread(wait_ready, proc.url, proc.log)
    groups = {name: f"{prefix}orderflow-{name}" for name in CONSUMERS}

    async def both_members() -> Any:
        counts = {n: await _group_members(kafka_bootstrap, g) for n, g in groups.items()}
        return True if all(c == 2 for c in counts.values()) else counts

    await _wait(both_members, 60, "two members in every group")
    ready_at = time.monotonic()

    orders = [amazon_order() for _ in range(ORDERS)]
    ids = {o["AmazonOrderId"] for o in orders}
    assert len(ids) == ORDERS
    accepted = 0
    half = (ORDERS // BATCH) // 2
    async with httpx.AsyncClient(base_url=ingest.url or "", timeout=120) as client:
        for number, start in enumerate(range(0, ORDERS, BATCH)):
            if number == half:
                # Mid-stream: the consumers are busy with the first half.
                for name, proc in seconds.items():
                    proc.popen.send_signal(
                        signal.SIGKILL if name == HARD_KILLED else signal.SIGTERM
                    )
            response = await client.post(
                "/v1/orders/batch", json={"orders": orders[start : start + BATCH]}, headers=A
            )
            assert response.status_code == 200, response.text
            accepted += response.json()["accepted"]
    posted_at = time.monotonic()
    assert accepted == ORDERS
    for name, proc in seconds.items():
        code = await asyncio.to_thread(proc.popen.wait, 60)
        expected = -signal.SIGKILL if name == HARD_KILLED else 0
        assert code == expected, f"{name} worker exited {code}:\n{proc.log.read_text()[-3000:]}"

    # Every service catches up: all orders stored, no lag left in its group.
    async def caught_up() -> Any:
        stored = {n: await _count(databases[n], "SELECT count(*) FROM orders") for n in CONSUMERS}
        lags = {
            n: await _lag(kafka_bootstrap, groups[n], [f"{prefix}{t}" for t in CONSUMERS[n]])
            for n in CONSUMERS
        }
        done = all(v == ORDERS for v in stored.values()) and all(
            not any(lag.values()) for lag in lags.values()
        )
        return True if done else {"stored": stored, "lag": lags}

    await _wait(caught_up, 240, "every order in every service with zero lag")
    caught_up_at = time.monotonic()

    # Exactly once: one row per order, no order snapshot in any inbox (they are applied once
    # by version, docs/adr/0057), no order's snapshot applied twice, no event published twice.
    orders_topic = f"{prefix}orders.v1"
    for name in CONSUMERS:
        url = databases[name]
        stored = {r[0] for r in await _rows(url, "SELECT amazon_order_id FROM orders")}
        assert stored == ids, name
        inbox = await _count(url, f"SELECT count(*) FROM inbox WHERE topic = '{orders_topic}'")
        assert inbox == 0, (name, inbox)
        repeated = await _rows(
            url,
            "SELECT topic, subject, aggregate_version, count(*) FROM inbox"
            " GROUP BY 1, 2, 3 HAVING count(*) > 1 LIMIT 5",
        )
        assert repeated == [], (name, repeated)
        published_twice = await _rows(
            url,
            "SELECT message_key, event_type, aggregate_version, count(*) FROM outbox"
            " GROUP BY 1, 2, 3 HAVING count(*) > 1 LIMIT 5",
        )
        assert published_twice == [], (name, published_twice)
        dead = await _count(url, "SELECT count(*) FROM dead_letters")
        assert dead == 0, name
    # Fulfillment: each order created once (version 1); analytics: one orders.v1 event per
    # order in its event log (a repeat would be a second row with another id).
    versions = await _rows(
        databases["fulfillment"], "SELECT version, count(*) FROM orders GROUP BY 1"
    )
    assert versions == [(1, ORDERS)]
    per_order = await _rows(
        databases["analytics"],
        f"SELECT count(*) FROM order_events WHERE topic = '{orders_topic}'"
        " GROUP BY subject HAVING count(*) <> 1",
    )
    assert per_order == []
    assert (
        await _count(
            databases["analytics"],
            f"SELECT count(*) FROM order_events WHERE topic = '{orders_topic}'",
        )
        == ORDERS
    )
    # The survivor of each group is alone in it now.
    for name, group in groups.items():
        assert await _group_members(kafka_bootstrap, group) == 1, name

    print(  # figures for the report (pytest -s)
        f"\nscale-out: {ORDERS} orders; start {ready_at - started:.1f}s, "
        f"post {posted_at - ready_at:.1f}s, caught up {caught_up_at - posted_at:.1f}s after "
        f"the last batch, total {caught_up_at - started:.1f}s"
    )
