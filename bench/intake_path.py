"""``python -m bench.intake_path``: CPU an order of ingest's intake path, in process.

From an order document as the API reads it (``read_order``: the Amazon shape validated) to
the statements' parameters (``accept_many``: the decision, the sealed PII, the snapshot, the
event and its bytes, the orders rows and the outbox rows), on a session that runs nothing:
no PostgreSQL, no HTTP, no Kafka. Every order is new. Orders of three kinds in turn (one
line FBM, one line FBA shipped, five lines), in batches of ``BENCH_BATCH`` (1 and 100);
``BENCH_ROUNDS`` rounds of ``BENCH_ORDERS`` orders each (the collector tuned as the services
tune it, a collection before each round), the median and the fastest round.
Compare two builds by running this module against each in turn (docs/performance/method.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import os
import statistics
import time
from collections.abc import AsyncIterator
from typing import Any

from cryptography.fernet import Fernet

from ingest.intake.adapters import amazon
from ingest.intake.domain.model import IncomingOrder
from ingest.intake.service_layer import handlers
from ingest.intake.service_layer.unit_of_work import SqlIntakeUnitOfWork
from orderflow_testkit.samples import amazon_order, order_id
from shared.pii import PIICipher
from shared.runtime import tune_gc

SELLER = "A2SELLERBENCH"


class _Session:
    """Takes the statements and runs none; an insert of new orders inserts them all."""

    async def execute(self, statement: Any, params: Any = None) -> list[tuple[Any]]:
        return [(key,) for key in (params or {}).get("rows_amazon_order_id", ())]

    @contextlib.asynccontextmanager
    async def begin_nested(self) -> AsyncIterator[None]:
        yield


def _item(n: int) -> dict[str, Any]:
    money = {"CurrencyCode": "USD", "Amount": f"{n}.99"}
    return {
        "ASIN": f"B0{n:08d}",
        "OrderItemId": f"4660236{n:07d}",
        "SellerSKU": f"SKU-{n}",
        "Title": f"Mug ☕ {n}",
        "QuantityOrdered": n,
        "ItemPrice": money,
        "ItemTax": {"CurrencyCode": "USD", "Amount": "0.80"},
    }


def documents(count: int) -> list[dict[str, Any]]:
    kinds = [
        lambda: amazon_order(),
        lambda: amazon_order(channel="AFN", status="Shipped"),
        lambda: amazon_order(items=[_item(n) for n in range(1, 6)]),
    ]
    return [kinds[n % 3]() | {"AmazonOrderId": order_id()} for n in range(count)]


async def _round(docs: list[dict[str, Any]], batch: int, pii: PIICipher) -> float:
    gc.collect()
    started = time.process_time()
    for start in range(0, len(docs), batch):
        orders = [amazon.parse(d) for d in docs[start : start + batch]]
        assert all(isinstance(o, IncomingOrder) for o in orders)
        uow = SqlIntakeUnitOfWork.joining(_Session(), topic="orders.v1")  # type: ignore[arg-type]
        outcomes = await handlers.accept_many(
            uow, seller_id=SELLER, entries=orders, source="api", pii=pii, topic="orders.v1"
        )
        assert all(isinstance(o, handlers.Accepted) for o in outcomes), outcomes
        await uow.commit()
    return (time.process_time() - started) / len(docs) * 1e6


async def main() -> None:
    count = int(os.environ.get("BENCH_ORDERS", "3000"))
    rounds = int(os.environ.get("BENCH_ROUNDS", "5"))
    batches = [int(b) for b in os.environ.get("BENCH_BATCH", "1,100").split(",")]
    pii = PIICipher(Fernet.generate_key().decode())
    tune_gc()  # as the service runs
    for batch in batches:
        await _round(documents(300), batch, pii)  # warm up
        figures = [await _round(documents(count), batch, pii) for _ in range(rounds)]
        print(
            f"batch {batch:>3}: {statistics.median(figures):6.1f} µs an order (median of "
            f"{rounds}; fastest {min(figures):.1f}; {', '.join(f'{f:.1f}' for f in figures)})"
            f"  load {os.getloadavg()[0]:.1f}"
        )


if __name__ == "__main__":
    asyncio.run(main())
