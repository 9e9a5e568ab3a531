"""Time fulfillment's apply of orders.v1 snapshots in runs, as the consumer runner does them.

Not a test (pytest does not collect it): ``.venv/bin/python -m tests.fulfillment.bench_snapshots``
against the test PostgreSQL (started or reused as the test session does). Events are built the
way ingest builds them (Amazon-shaped order -> ``_snapshot`` -> ``build_event``); each run of
``--run`` records is applied in one transaction by the service's own applier
(``apply_many``: inbox claim + handler), so the same script times the per-event and the batched
handler alike.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import time
from collections.abc import Awaitable
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from devstack import config
from devstack.postgres import PostgresServer
from devstack.testing import DatabaseFactory, shared_server
from fulfillment.bootstrap import SPEC
from fulfillment.settings import FulfillmentSettings
from ingest.adapters import amazon
from ingest.domain.model import IncomingOrder
from ingest.service_layer.handlers import _snapshot
from shared import topics
from shared.db.migrations import upgrade_to_head
from shared.envelope import CloudEvent
from shared.events.orders import ORDER_CREATED, ORDER_UPDATED
from shared.events.registry import build_event
from shared.kafka.consumer import Batched, Handler, Message
from shared.pii import PIICipher
from shared.runtime import Resources, open_resources
from shared.samples import amazon_order, order_id
from tests.conftest import TEST_RUN_DIR
from tests.fulfillment.conftest import PII_KEY, SELLER

TOPIC = "bench.orders.v1"


def _message(offset: int, order: dict[str, object], version: int, cipher: PIICipher) -> Message:
    incoming = amazon.parse(order)
    assert isinstance(incoming, IncomingOrder)
    snap = _snapshot(incoming, SELLER, version, "api", cipher, None)
    event = build_event(
        topic=topics.ORDERS,
        event_type=ORDER_CREATED if version == 1 else ORDER_UPDATED,
        payload=snap,
        source="ingest",
        subject=snap.amazon_order_id,
        seller_id=SELLER,
        version=version,
    )
    return Message(TOPIC, 0, offset, snap.amazon_order_id, event.to_bytes())


def messages(count: int, rng: random.Random) -> list[Message]:
    """Half new orders (v1), then the same orders updated (v2, a later LastUpdateDate)."""
    cipher = PIICipher(PII_KEY)
    purchased = datetime.now(UTC) - timedelta(hours=3)
    ids = [order_id(rng) for _ in range(count // 2)]
    first = [amazon_order(amazon_order_id=i, purchased=purchased) for i in ids]
    later = [
        amazon_order(amazon_order_id=i, purchased=purchased, updated=purchased + timedelta(hours=1))
        for i in ids
    ]
    out = [_message(n, o, 1, cipher) for n, o in enumerate(first)]
    return out + [_message(len(out) + n, o, 2, cipher) for n, o in enumerate(later)]


async def bench(database_url: str, count: int, run: int, repeat: int) -> None:
    settings = FulfillmentSettings(
        DATABASE_URL=database_url,
        KAFKA_BOOTSTRAP_SERVERS="127.0.0.1:1",  # never contacted here
        ORDERFLOW_API_KEYS="k=system",
        ORDERFLOW_PII_KEY=PII_KEY,
    )
    await asyncio.to_thread(upgrade_to_head, SPEC.migrations_dir, database_url)
    async with open_resources(SPEC, settings) as resources:
        in_handler = _time_handlers(resources)
        for n in range(repeat):  # fresh order ids each time; the best time is the least noisy
            in_handler[0] = 0.0
            timings = await _timed_runs(resources, messages(count, random.Random(n)), run)
            half, total = len(timings) // 2, sum(timings)
            print(
                f"{count} events in runs of {run}: {total:.2f}s, {count / total:,.0f} ev/s"
                f" (created {count / 2 / sum(timings[:half]):,.0f} ev/s,"
                f" updated {count / 2 / sum(timings[half:]):,.0f} ev/s);"
                f" in the snapshot handler {in_handler[0]:.2f}s, {count / in_handler[0]:,.0f} ev/s"
            )


def _time_handlers(resources: Resources) -> list[float]:
    """Wrap the orders.v1 snapshot handler (per-event or Batched alike) to add up its time."""
    spent = [0.0]
    handler = resources.applier.handlers[ORDER_CREATED]

    async def timed(call: Awaitable[None]) -> None:
        began = time.perf_counter()
        try:
            await call
        finally:
            spent[0] += time.perf_counter() - began

    if isinstance(handler, Batched):
        batched = handler
        wrapped: Handler = Batched(lambda session, events: timed(batched.apply(session, events)))
    else:
        single = handler

        def wrapped(session: AsyncSession, event: CloudEvent, payload: Any) -> Awaitable[None]:
            return timed(single(session, event, payload))

    resources.applier.handlers.update({ORDER_CREATED: wrapped, ORDER_UPDATED: wrapped})
    return spent


async def _timed_runs(resources: Resources, batch: list[Message], run: int) -> list[float]:
    timings: list[float] = []
    for start in range(0, len(batch), run):
        began = time.perf_counter()
        async with resources.sessions() as session, session.begin():
            applied = await resources.applier.apply_many(session, batch[start : start + run])
        timings.append(time.perf_counter() - began)
        assert applied == len(batch[start : start + run])
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=2000)
    parser.add_argument("--run", type=int, default=500)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    run_dir = TEST_RUN_DIR / "pg"
    server = PostgresServer(run_dir, config.TEST_POSTGRES_PORT, fsync=False)
    with shared_server(server, run_dir):
        factory = DatabaseFactory(server.server_url)
        try:
            asyncio.run(bench(factory("fulfillment_bench"), args.events, args.run, args.repeat))
        finally:
            factory.drop_all()


if __name__ == "__main__":
    main()
