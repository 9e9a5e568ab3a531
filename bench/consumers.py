"""``make bench-consumers``: how fast each consumer service applies orders.v1, in process.

No Kafka and no HTTP: on the benchmark PostgreSQL (``.run/bench/``, started if needed), each
consumer service (fulfillment, defects, analytics) gets a fresh, migrated database, and its own
runner's transaction for a fetch (``shared.messaging.runner.apply_fetch``: the partitions'
stored offsets locked and stored around ``EventApplier.apply_many``: decode, the inbox claim
of facts (snapshots take none), the service's handlers) applies ``BENCH_ORDERS`` (default
5000) ``order.created`` events, then the same orders' ``order.updated`` (version 2), in runs
of ``BENCH_RUN`` (500) records, one transaction per run. Events are the bytes ingest writes
(an Amazon-shaped order, its PII sealed: ``handlers.order_event``). This isolates a service's
apply cost from the rest of the pipeline: the figure to watch when changing a handler.

Prints a short summary, then the JSON document (also saved under ``bench/results/``).
"""

from __future__ import annotations

import asyncio
import importlib
import os
import time
from dataclasses import dataclass
from typing import Any

import uvloop
from aiokafka import TopicPartition

from bench.common import Machine, machine, save
from bench.endtoend import INFRA
from devstack import config
from ingest.intake.adapters import amazon
from ingest.intake.domain.model import IncomingOrder
from ingest.intake.service_layer.handlers import order_event  # as ingest writes them
from orderflow_testkit.samples import amazon_order
from shared.db.migrations import upgrade_to_head
from shared.messaging import runner
from shared.messaging.decoding import Message
from shared.pii import PIICipher
from shared.runtime import open_resources, tune_gc
from shared.settings import ServiceSettings

CONSUMERS = ("fulfillment", "defects", "analytics")
SELLER = "A2SELLERBENCH"


def events(
    orders: list[IncomingOrder], version: int, pii: PIICipher, first: int = 0
) -> list[Message]:
    """The orders' events, spread over 12 partitions, at offsets from ``first`` on."""
    out = []
    for index, order in enumerate(orders):
        event = order_event(order, seller_id=SELLER, version=version, source="batch", pii=pii)
        key = order.amazon_order_id
        out.append(Message("bench.orders.v1", index % 12, first + index, key, event.payload))
    return out


def settings_of(service: str, database_url: str) -> ServiceSettings:
    module = importlib.import_module(f"{service}.settings")
    [cls] = [
        v
        for k, v in vars(module).items()
        if k.endswith("Settings") and isinstance(v, type) and issubclass(v, ServiceSettings)
        if v is not ServiceSettings
    ]
    settings: ServiceSettings = cls(
        DATABASE_URL=database_url,
        KAFKA_BOOTSTRAP_SERVERS="127.0.0.1:9",  # never used: nothing here talks to Kafka
        ORDERFLOW_PII_KEY=config.pii_key(),
        ORDERFLOW_API_KEYS="bench-ops=ops",
    )
    return settings


@dataclass(frozen=True)
class Report:
    """``make bench-consumers``'s document."""

    machine: Machine
    orders: int
    run_size: int
    events_per_s: dict[str, dict[str, float]]  # by service: "<phase>_per_s"
    benchmark: str = "consumers"


async def measure(service: str, phases: dict[str, list[Message]], run: int) -> dict[str, float]:
    tag = f"consumers{int(time.time())}_{service}"
    INFRA.postgres.create_database(tag)
    url = INFRA.postgres.url(tag)
    await asyncio.to_thread(upgrade_to_head, _spec(service).migrations_dir, url)
    out: dict[str, float] = {}
    async with open_resources(_spec(service), settings_of(service, url)) as resources:
        for phase, messages in phases.items():
            started = time.perf_counter()
            for i in range(0, len(messages), run):
                async with resources.sessions() as session, session.begin():
                    await _apply(session, resources.applier, messages[i : i + run])
            out[f"{phase}_per_s"] = round(len(messages) / (time.perf_counter() - started), 1)
    return out


async def _apply(session: Any, applier: Any, messages: list[Message]) -> None:
    """What the build's runner does with a fetch in its transaction: the records grouped by
    partition (as a fetch hands them), then ``apply_fetch`` (stored offsets locked, checked and
    stored around ``apply_many``) where the build has it, else ``apply_many`` alone (a base
    from before offsets were stored with the data)."""
    fetched: dict[Any, list[Message]] = {}
    for message in messages:
        fetched.setdefault(TopicPartition(message.topic, message.partition), []).append(message)
    apply_fetch = getattr(runner, "apply_fetch", None)
    if apply_fetch is None:
        await applier.apply_many(session, [m for ms in fetched.values() for m in ms])
    else:
        await apply_fetch(session, applier, fetched)


def _spec(service: str) -> Any:
    return importlib.import_module(f"{service}.bootstrap").SPEC


async def run() -> Report:
    n = int(os.environ.get("BENCH_ORDERS", "5000"))
    run_size = int(os.environ.get("BENCH_RUN", "500"))
    pii = PIICipher(config.pii_key())
    stamp = int(time.time()) % 100_000
    parsed = [
        amazon.parse(amazon_order(amazon_order_id=f"{i % 900 + 100:03d}-{stamp:07d}-{i:07d}"))
        for i in range(n)
    ]
    orders = [o for o in parsed if isinstance(o, IncomingOrder)]
    phases = {
        "created": events(orders, 1, pii),
        "updated": events(orders, 2, pii, first=len(orders)),
    }
    was_running = INFRA.postgres.is_running()
    INFRA.start_postgres()
    try:
        results = {s: await measure(s, phases, run_size) for s in CONSUMERS}
    finally:
        if not was_running:
            INFRA.postgres.stop()
    return Report(machine=machine(), orders=n, run_size=run_size, events_per_s=results)


def main() -> None:
    # As the services run (shared.runtime.main): uvloop, and the collector tuned. With
    # asyncio's loop and Python's default thresholds, the same 20,000 orders applied 35-45%
    # fewer events/s (fulfillment created 4,431 and 5,090 against 6,976 and 8,007), costs
    # no service pays.
    tune_gc()
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        report = runner.run(run())
    print(f"apply_many in process, {report.orders} orders, runs of {report.run_size}:")
    for service, figures in report.events_per_s.items():
        print(f"  {service}: " + ", ".join(f"{k} {v}" for k, v in figures.items()))
    print(save("consumers", report))


if __name__ == "__main__":
    main()
