"""How fast defects applies orders.v1 snapshots: not a test, a measurement to run by hand.

    .venv/bin/python tests/defects/measure_apply.py [events] [run_size] [rounds]

Builds ``events`` snapshot events the way ingest does (``shared.samples.amazon_order`` parsed,
``_snapshot`` + ``build_event``): three in four are new orders (version 1), the rest updates
(version 2) of some of them, in partition order. Then times the consumer runner's apply
(``EventApplier.apply_many``: decode, inbox claim, handlers) in runs of ``run_size`` records,
one transaction per run, against the test PostgreSQL (started or reused like the test fixtures
do); then the orders.v1 handler alone on the same number of decoded events, called as the
runner calls it. Prints events/s of each round and the medians.
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import time
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession

from defects.bootstrap import SPEC
from defects.settings import DefectsSettings
from devstack import config
from devstack.postgres import PostgresServer
from devstack.testing import DatabaseFactory, shared_server
from ingest.adapters.amazon import parse
from ingest.domain.model import IncomingOrder
from ingest.service_layer.handlers import _snapshot
from shared.db.migrations import upgrade_to_head
from shared.events.orders import ORDER_CREATED, ORDER_UPDATED
from shared.events.registry import build_event
from shared.kafka.consumer import Batched, Events, Handler, Message, decode
from shared.pii import PIICipher
from shared.runtime import open_resources
from shared.samples import amazon_order, order_id
from shared.topics import ORDERS

SELLER = "A2SELLER1EXAMPLE"
RUN_DIR = Path(__file__).resolve().parents[2] / ".run" / "test" / "pg"


def messages(count: int, topic: str) -> list[Message]:
    pii = PIICipher(PIICipher.generate_key())
    fresh = count * 3 // 4
    incoming = []
    for _ in range(fresh):
        parsed = parse(amazon_order(amazon_order_id=order_id()))
        assert isinstance(parsed, IncomingOrder)
        incoming.append(parsed)
    plan = [(o, 1) for o in incoming] + [(o, 2) for o in incoming[: count - fresh]]
    out = []
    for offset, (order, version) in enumerate(plan):
        snapshot = _snapshot(order, SELLER, version, "api", pii, None)
        event = build_event(
            topic=ORDERS,
            event_type=ORDER_CREATED if version == 1 else ORDER_UPDATED,
            payload=snapshot,
            source="ingest",
            subject=order.amazon_order_id,
            seller_id=SELLER,
            version=version,
        )
        key = order.amazon_order_id
        out.append(Message(topic, 0, offset, key, event.to_bytes()))
    return out


async def measure(database_url: str, count: int, run_size: int, rounds: int) -> None:
    settings = DefectsSettings(DATABASE_URL=database_url, KAFKA_TOPIC_PREFIX="measure.")
    await asyncio.to_thread(upgrade_to_head, SPEC.migrations_dir, database_url)
    topic = settings.topic(ORDERS)
    runner, alone = [], []
    async with open_resources(SPEC, settings) as resources:
        handler = resources.applier.handlers[ORDER_CREATED]
        for _ in range(rounds + 1):  # the first round warms caches up and is not counted
            batch = messages(count, topic)
            started = time.perf_counter()
            for i in range(0, len(batch), run_size):
                async with resources.sessions() as session, session.begin():
                    await resources.applier.apply_many(session, batch[i : i + run_size])
            runner.append(count / (time.perf_counter() - started))
            events = [decode(m) for m in messages(count, topic)]
            started = time.perf_counter()
            for i in range(0, len(events), run_size):
                async with resources.sessions() as session, session.begin():
                    await apply_run(handler, session, events[i : i + run_size])
            alone.append(count / (time.perf_counter() - started))
    for name, rates in (("runner", runner[1:]), ("handler", alone[1:])):
        shown = " ".join(f"{r:6.0f}" for r in rates)
        print(f"{name:8} {shown}  median {statistics.median(rates):.0f}")
    print(f"events/s, {count} events in runs of {run_size}")


async def apply_run(handler: Handler, session: AsyncSession, run: Events) -> None:
    """As the runner does: a Batched handler gets the run, any other handler one event a time."""
    if isinstance(handler, Batched):
        await handler.apply(session, run)
    else:
        for event, payload in run:
            await handler(session, event, payload)


def main() -> None:
    given = [int(a) for a in sys.argv[1:]]
    count, run_size, rounds = [*given, *(2000, 500, 5)[len(given) :]]
    server = PostgresServer(RUN_DIR, config.TEST_POSTGRES_PORT, fsync=False)
    with shared_server(server, RUN_DIR):
        databases = DatabaseFactory(server.server_url)
        try:
            asyncio.run(measure(databases("measure_defects"), count, run_size, rounds))
        finally:
            databases.drop_all()


if __name__ == "__main__":
    main()
