"""The limit the platform is measured against: the same payloads through bare clients.

Kafka: an ``aiokafka`` producer with the platform's delivery settings (idempotent,
``acks=all``) sends every order document to a fresh 12-partition topic, then one consumer reads
them all back. PostgreSQL: ``asyncpg`` writes the same rows (id, JSONB document) into a bare
table, one transaction per batch, with ``COPY`` and with ``executemany``. No services, no ORM.
"""

from __future__ import annotations

import time
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from bench.cluster import Infra
from bench.common import connect
from bench.loadgen import build_orders, order_ids
from shared.kafka.client import make_consumer, make_producer


async def kafka_limit(infra: Infra, tag: str, n: int) -> dict[str, Any]:
    bootstrap = infra.kafka.bootstrap
    topic = f"{tag}.bare.orders"
    ids = order_ids("9999999", n)
    bodies = build_orders("9999999", n)
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, num_partitions=12, replication_factor=1)])
    finally:
        await admin.close()
    producer = make_producer(bootstrap, client_id="bench-bare")
    await producer.start()
    try:
        # A new topic's partitions need a moment to get leaders: warm up outside the clock.
        for partition in range(12):
            await (await producer.send(topic, value=b"warm-up", partition=partition))
        started = time.perf_counter()
        futures = [
            await producer.send(topic, value=b, key=k.encode())
            for k, b in zip(ids, bodies, strict=True)
        ]
        for future in futures:
            await future
        produce_s = time.perf_counter() - started
    finally:
        await producer.stop()
    consumer = make_consumer(bootstrap, group_id=f"{tag}.bare", topics=[topic], client_id="bench")
    await consumer.start()
    try:
        consume_started = time.perf_counter()
        seen = 0
        while seen < n + 12:  # the orders and the warm-up records
            batches = await consumer.getmany(timeout_ms=500, max_records=10_000)
            seen += sum(len(records) for records in batches.values())
        consume_s = time.perf_counter() - consume_started
    finally:
        await consumer.stop()
    return {
        "orders": n,
        "payload_bytes_avg": round(sum(map(len, bodies)) / n),
        "produce_per_s": round(n / produce_s, 1),
        "consume_per_s": round(n / consume_s, 1),
        "produce_then_consume_per_s": round(n / (produce_s + consume_s), 1),
    }


async def postgres_limit(infra: Infra, tag: str, n: int, batch_size: int) -> dict[str, Any]:
    database = f"{tag}_bare"
    infra.postgres.create_database(database)
    ids = order_ids("9999998", n)
    bodies = [b.decode() for b in build_orders("9999998", n)]
    rows = list(zip(ids, bodies, strict=True))
    conn = await connect(infra.dsn(database))
    try:
        out: dict[str, Any] = {"orders": n, "batch_size": batch_size}
        for method in ("copy", "executemany"):
            table = f"bare_{method}"
            await conn.execute(
                f"CREATE TABLE {table} (amazon_order_id text PRIMARY KEY, doc jsonb NOT NULL, "
                "created_at timestamptz NOT NULL DEFAULT now())"
            )
            started = time.perf_counter()
            for i in range(0, n, batch_size):
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
            out[f"{method}_per_s"] = round(n / (time.perf_counter() - started), 1)
        return out
    finally:
        await conn.close()
