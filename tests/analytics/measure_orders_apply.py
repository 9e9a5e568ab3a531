"""Time analytics applying orders.v1 snapshots as its consumer does (not a test).

Builds order events the way ingest does (``amazon_order`` -> ``_snapshot`` -> ``build_event``),
then applies them through the runner's ``EventApplier.apply_many`` (decode, inbox claim,
handlers) in runs of ``--run`` records, one transaction per run, against a fresh database on
the test PostgreSQL (registered as one of its users, so no test session stops it meanwhile;
set ORDERFLOW_KEEP_TEST_STACK=1 to leave it running if this script had to start it). Phase
"created" applies version 1 of every order, phase "updated" version 2 of the same orders.
Run it from a checkout of the code to measure; PYTHONPATH can point ``analytics`` elsewhere.

    .venv/bin/python tests/analytics/measure_orders_apply.py --events 2000 --run 500
"""

from __future__ import annotations

import argparse
import asyncio
import time
from pathlib import Path

from analytics.bootstrap import SPEC
from devstack.config import TEST_POSTGRES_PORT
from devstack.postgres import PostgresServer
from devstack.testing import DatabaseFactory, shared_server
from ingest.adapters.amazon_v0 import parse
from ingest.domain.model import IncomingOrder
from ingest.service_layer.handlers import _snapshot
from shared import topics
from shared.db.migrations import upgrade_to_head
from shared.db.session import make_engine, make_sessionmaker
from shared.events.orders import ORDER_CREATED, ORDER_UPDATED
from shared.events.registry import build_event
from shared.kafka.consumer import EventApplier, Message
from shared.pii import PIICipher
from shared.samples import amazon_order

SELLERS = ("A2SELLER1EXAMPLE", "A3SELLER2EXAMPLE")
TEST_RUN_DIR = Path(__file__).resolve().parents[2] / ".run" / "test" / "pg"


def messages(orders: list[IncomingOrder], version: int, pii: PIICipher) -> list[Message]:
    out = []
    for n, order in enumerate(orders):
        seller = SELLERS[n % len(SELLERS)]
        snapshot = _snapshot(order, seller, version, "api", pii, None)
        event = build_event(
            topic=topics.ORDERS,
            event_type=ORDER_CREATED if version == 1 else ORDER_UPDATED,
            payload=snapshot,
            source="ingest",
            subject=order.amazon_order_id,
            seller_id=seller,
            version=version,
        )
        out.append(Message(topics.ORDERS, 0, len(out), order.amazon_order_id, event.to_bytes()))
    return out


async def apply(url: str, phases: dict[str, list[Message]], run: int) -> None:
    engine = make_engine(url, pool_size=2)
    sessions = make_sessionmaker(engine)
    applier = EventApplier(tables=SPEC.tables, handlers=SPEC.handlers(None))  # type: ignore[arg-type]
    try:
        for name, batch in phases.items():
            started = time.perf_counter()
            for i in range(0, len(batch), run):
                async with sessions() as session, session.begin():
                    await applier.apply_many(session, batch[i : i + run])
            elapsed = time.perf_counter() - started
            print(f"{name}: {len(batch)} events in {elapsed:.2f}s = {len(batch) / elapsed:.0f}/s")
    finally:
        await engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=2000)
    parser.add_argument("--run", type=int, default=500)
    args = parser.parse_args()
    pii = PIICipher(PIICipher.generate_key())
    orders = []
    for _ in range(args.events):
        parsed = parse(amazon_order())
        assert isinstance(parsed, IncomingOrder)
        orders.append(parsed)
    phases = {"created": messages(orders, 1, pii), "updated": messages(orders, 2, pii)}
    server = PostgresServer(TEST_RUN_DIR, TEST_POSTGRES_PORT, fsync=False)
    with shared_server(server, TEST_RUN_DIR):  # the tests' PostgreSQL, started if need be
        factory = DatabaseFactory(server.server_url)
        try:
            url = factory("analytics_measure")
            upgrade_to_head(SPEC.migrations_dir, url)
            asyncio.run(apply(url, phases, args.run))
        finally:
            factory.drop_all()


if __name__ == "__main__":
    main()
