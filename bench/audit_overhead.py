"""What the audit trail costs a write: the same requests with and without their entry.

    .venv/bin/python -m bench.audit_overhead [--rounds 6] [--requests 300] [--batch 200]

Runs fulfillment in-process on a fresh database of a running PostgreSQL (``POSTGRES_URL``, by
default the test server on 15432) and sends, in alternating rounds, ``--requests`` shipment
edits (PATCH: one order read and written, one event) with the audit trail on and off (off:
no ``Change`` is opened, so the hook writes nothing); then ingest's batch intake of
``--batch`` orders per request, on and off; then the entry's INSERT alone, timed around the
statement. Prints the median time per request (or statement) of each.
docs/adr/0050-audit-trail.md records the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from devstack.config import POSTGRES_USER
from devstack.testing import DatabaseFactory
from orderflow_testkit.harness import RunningService, running_service
from orderflow_testkit.samples import amazon_order
from shared import audit

PII_KEY = "n_BqP4SNyVeTHYn4Gjx04lJgXmwo1DbEEpWiUaOM2Qs="
SELLER = "A2SELLER1EXAMPLE"
KEYS = f"k-seller=seller:{SELLER}"
AS_SELLER = {"Authorization": "Bearer k-seller"}
ON = audit.METHODS


async def _timed(send: Callable[[], Awaitable[Any]], count: int) -> float:
    started = time.perf_counter()
    for _ in range(count):
        await send()
    return (time.perf_counter() - started) / count


async def _rounds(name: str, send: Callable[[], Awaitable[Any]], rounds: int, count: int) -> None:
    times: dict[str, list[float]] = {"on": [], "off": []}
    await _timed(send, max(10, count // 10))  # warm up
    for n in range(rounds):
        for mode in ("on", "off") if n % 2 else ("off", "on"):
            audit.METHODS = ON if mode == "on" else frozenset()
            times[mode].append(await _timed(send, count))
    audit.METHODS = ON
    on, off = (statistics.median(times[m]) * 1000 for m in ("on", "off"))
    print(f"{name}: {on:.2f} ms with the entry, {off:.2f} ms without ({on - off:+.2f} ms)")


async def _fulfillment(url: str, args: argparse.Namespace) -> None:
    from fulfillment.bootstrap import SPEC
    from fulfillment.settings import FulfillmentSettings
    from tests.fulfillment.conftest import apply, snapshot

    settings = FulfillmentSettings(
        DATABASE_URL=url, ORDERFLOW_API_KEYS=KEYS, ORDERFLOW_PII_KEY=PII_KEY
    )
    async with running_service(SPEC, settings, roles=()) as svc:
        snap = snapshot(seller_id=SELLER)
        await apply(svc, snap)
        oid = snap.amazon_order_id
        shipped = await svc.client.post(
            f"/v1/orders/{oid}/shipments",
            json={
                "carrier_code": "UPS",
                "tracking_number": "1Z999AA10123456784",
                "ship_date": _now(),
            },
            headers=AS_SELLER,
        )
        path = f"/v1/orders/{oid}/shipments/{shipped.json()['shipment_id']}"
        counter = iter(range(10**9))

        async def edit() -> None:
            body = {"tracking_number": f"1Z999AA1{next(counter):010d}"}
            response = await svc.client.patch(path, json=body, headers=AS_SELLER)
            assert response.status_code == 200, response.text

        await _rounds("fulfillment PATCH shipment", edit, args.rounds, args.requests)


async def _ingest(url: str, args: argparse.Namespace) -> None:
    from ingest.bootstrap import SPEC
    from ingest.settings import IngestSettings

    settings = IngestSettings(DATABASE_URL=url, ORDERFLOW_API_KEYS=KEYS, ORDERFLOW_PII_KEY=PII_KEY)
    async with running_service(SPEC, settings, roles=()) as svc:

        async def batch(service: RunningService = svc) -> None:
            orders = [amazon_order() for _ in range(args.batch)]
            response = await service.client.post(
                "/v1/orders/batch", json={"orders": orders}, headers=AS_SELLER
            )
            assert response.status_code == 200, response.text

        count = max(3, args.requests // args.batch * 4)
        await _rounds(f"ingest batch of {args.batch} orders", batch, args.rounds, count)


async def _statement(url: str, count: int) -> None:
    """The entry's own statement: ``count`` inserts of a typical row, one transaction each, as
    the hook issues it (timed around the INSERT only)."""
    from sqlalchemy import insert

    from analytics.bootstrap import SPEC
    from analytics.settings import AnalyticsSettings

    settings = AnalyticsSettings(DATABASE_URL=url, ORDERFLOW_API_KEYS=KEYS)
    async with running_service(SPEC, settings, roles=()) as svc:
        table = svc.resources.tables.audit_log
        row = {
            "key_name": "k-se…",
            "role": "seller",
            "seller_id": SELLER,
            "operation": "edit_shipment",
            "method": "PATCH",
            "path": "/v1/orders/{amazon_order_id}/shipments/{shipment_id}",
            "resource_type": "order",
            "resource_id": "111-0000000-0000001",
            "status_before": "Shipped",
            "status_after": "Shipped",
            "outcome": "ok",
            "status_code": 200,
            "correlation_id": "7c373d53-3fd2-4a4c-8c47-74823b3fcaac",
        }
        spent: list[float] = []
        for _ in range(count):
            async with svc.resources.sessions() as session, session.begin():
                started = time.perf_counter()
                await session.execute(insert(table).values(**row))
                spent.append(time.perf_counter() - started)
        median = statistics.median(spent) * 1000
        print(f"the entry's INSERT alone: {median:.3f} ms (median of {count})")


def _now() -> str:
    return datetime.now(UTC).isoformat()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--batch", type=int, default=200)
    args = parser.parse_args()
    server = os.environ.get(
        "POSTGRES_URL", f"postgresql://{POSTGRES_USER}@127.0.0.1:15432/postgres"
    )
    factory = DatabaseFactory(server)
    try:
        asyncio.run(_fulfillment(factory("bench_audit_f"), args))
        asyncio.run(_ingest(factory("bench_audit_i"), args))
        asyncio.run(_statement(factory("bench_audit_s"), args.requests * 5))
    finally:
        factory.drop_all()


if __name__ == "__main__":
    main()
