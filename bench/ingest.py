"""``make bench-ingest``: how fast ingest takes orders in and gets them onto ``orders.v1``.

Runs ``python -m ingest all`` against the local Kafka and PostgreSQL (started if needed),
then, from this separate process: N single ``POST /v1/orders`` (16 in flight) and N orders in
batches of 500 (4 in flight). Prints a short summary and, last, one JSON line with orders/s
accepted, orders/s published to Kafka and latency percentiles. ``BENCH_ORDERS`` sets N.
"""

from __future__ import annotations

import asyncio
import os
import time
from dataclasses import dataclass
from typing import Any

import httpx
from aiokafka import AIOKafkaConsumer

from bench.common import (
    Machine,
    Percentiles,
    local_stack,
    machine,
    percentiles,
    save,
    service_process,
)
from orderflow_testkit.samples import amazon_order

HEADERS = {"Authorization": "Bearer bench-seller"}
SINGLES_IN_FLIGHT = 16
BATCH_SIZE = 500
BATCHES_IN_FLIGHT = 4


@dataclass(frozen=True)
class Singles:
    orders: int
    orders_per_s: float
    latency: Percentiles
    in_flight: int = SINGLES_IN_FLIGHT


@dataclass(frozen=True)
class Batches:
    orders: int
    orders_per_s: float
    latency_per_batch: Percentiles
    batch_size: int = BATCH_SIZE
    in_flight: int = BATCHES_IN_FLIGHT


@dataclass(frozen=True)
class Published:
    orders_per_s: float
    seconds_to_last_event: float


@dataclass(frozen=True)
class Report:
    """``make bench-ingest``'s document."""

    orders: int
    machine: Machine
    single: Singles
    batch: Batches
    published: Published
    benchmark: str = "ingest"


async def _singles(client: httpx.AsyncClient, orders: list[dict[str, Any]]) -> list[float]:
    latencies: list[float] = []
    queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    for order in orders:
        queue.put_nowait(order)

    async def worker() -> None:
        while not queue.empty():
            order = queue.get_nowait()
            started = time.perf_counter()
            response = await client.post("/v1/orders", json=order, headers=HEADERS)
            latencies.append(time.perf_counter() - started)
            response.raise_for_status()

    await asyncio.gather(*(worker() for _ in range(SINGLES_IN_FLIGHT)))
    return latencies


async def _batches(client: httpx.AsyncClient, orders: list[dict[str, Any]]) -> list[float]:
    chunks = [orders[i : i + BATCH_SIZE] for i in range(0, len(orders), BATCH_SIZE)]
    latencies: list[float] = []
    semaphore = asyncio.Semaphore(BATCHES_IN_FLIGHT)

    async def send(chunk: list[dict[str, Any]]) -> None:
        async with semaphore:
            started = time.perf_counter()
            response = await client.post(
                "/v1/orders/batch", json={"orders": chunk}, headers=HEADERS, timeout=120
            )
            latencies.append(time.perf_counter() - started)
            response.raise_for_status()
            assert response.json()["rejected"] == 0

    await asyncio.gather(*(send(c) for c in chunks))
    return latencies


async def _published(bootstrap: str, topic: str, expected: int, started: float) -> float:
    """Seconds from ``started`` until ``expected`` records are on the topic."""
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        group_id=None,
    )
    await consumer.start()
    seen = 0
    try:
        while seen < expected:
            batch = await consumer.getmany(timeout_ms=500, max_records=10_000)
            seen += sum(len(records) for records in batch.values())
    finally:
        await consumer.stop()
    return time.perf_counter() - started


async def run(n: int) -> Report:
    prefix = f"bench{int(time.time())}."
    with local_stack() as platform, service_process(platform, "ingest", prefix=prefix) as env:
        singles = [amazon_order() for _ in range(min(n, 5000))]
        batched = [amazon_order() for _ in range(n)]
        limits = httpx.Limits(max_connections=32)
        async with httpx.AsyncClient(base_url=env["URL"], limits=limits, timeout=60) as client:
            started = time.perf_counter()
            single_lat = await _singles(client, singles)
            single_s = time.perf_counter() - started
            batch_started = time.perf_counter()
            batch_lat = await _batches(client, batched)
            batch_s = time.perf_counter() - batch_started
        total = len(singles) + len(batched)
        publish_s = await _published(platform.kafka.bootstrap, f"{prefix}orders.v1", total, started)
    return Report(
        orders=total,
        machine=machine(),
        single=Singles(
            orders=len(singles),
            orders_per_s=round(len(singles) / single_s, 1),
            latency=percentiles(single_lat),
        ),
        batch=Batches(
            orders=len(batched),
            orders_per_s=round(len(batched) / batch_s, 1),
            latency_per_batch=percentiles(batch_lat),
        ),
        published=Published(
            orders_per_s=round(total / publish_s, 1),
            seconds_to_last_event=round(publish_s, 2),
        ),
    )


def main() -> None:
    n = int(os.environ.get("BENCH_ORDERS", "20000"))
    report = asyncio.run(run(n))
    print(
        f"ingest on {report.machine.cores} cores: "
        f"single {report.single.orders_per_s} orders/s "
        f"(p99 {report.single.latency.p99_ms} ms), "
        f"batch {report.batch.orders_per_s} orders/s, "
        f"published {report.published.orders_per_s} orders/s"
    )
    print(save("ingest", report))


if __name__ == "__main__":
    main()
