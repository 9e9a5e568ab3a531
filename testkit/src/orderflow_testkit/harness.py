"""Test helpers: run a service in-process against real PostgreSQL and Kafka, read topics.

``running_service`` migrates the service's database, opens its resources, starts the roles
asked for (consumer, relay, background jobs) as tasks, and gives an ``httpx.AsyncClient``
bound to its API through ASGI. Used by integration and end-to-end tests; nothing here fakes
Kafka or PostgreSQL.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from typing import Any

import httpx
from aiokafka import AIOKafkaConsumer, ConsumerRecord
from asgi_lifespan import LifespanManager
from fastapi import FastAPI

from shared.db.migrations import upgrade_to_head
from shared.runtime import (
    Resources,
    ServiceSpec,
    open_resources,
    run_background,
    run_relay,
    run_worker,
)
from shared.settings import ServiceSettings


@dataclass
class RunningService:
    spec: ServiceSpec[Any, Any]
    resources: Resources[Any]
    app: FastAPI
    client: httpx.AsyncClient

    def as_(self, key: str, seller_id: str | None = None) -> dict[str, str]:
        """Headers for a request with API key ``key`` (and ``X-Seller-Id``)."""
        headers = {"Authorization": f"Bearer {key}"}
        if seller_id:
            headers["X-Seller-Id"] = seller_id
        return headers


@contextlib.asynccontextmanager
async def running_service(
    spec: ServiceSpec[Any, Any],
    settings: ServiceSettings,
    *,
    roles: Sequence[str] = ("worker", "relay"),
    migrate: bool = True,
) -> AsyncIterator[RunningService]:
    if migrate:
        await asyncio.to_thread(upgrade_to_head, spec.migrations_dir, settings.database_url)
    async with open_resources(spec, settings) as resources:
        stop = asyncio.Event()
        parts = {"worker": run_worker, "relay": run_relay, "background": run_background}
        tasks = [asyncio.ensure_future(parts[r](spec, resources, stop)) for r in roles]
        app = spec.build_app(resources)
        try:
            async with LifespanManager(app):
                transport = httpx.ASGITransport(app=app)
                async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
                    yield RunningService(spec, resources, app, c)
        finally:
            stop.set()
            results = await asyncio.gather(*tasks, return_exceptions=True)
            errors = [r for r in results if isinstance(r, BaseException)]
            if errors:
                raise errors[0]


async def read_topic(
    bootstrap: str,
    topic: str,
    *,
    until: Callable[[list[ConsumerRecord[bytes, bytes]]], bool],
    timeout: float = 30.0,
) -> list[ConsumerRecord[bytes, bytes]]:
    """Read ``topic`` from the beginning until ``until(records)`` holds (or time runs out)."""
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=None,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    records: list[ConsumerRecord[bytes, bytes]] = []
    deadline = time.monotonic() + timeout
    try:
        while not until(records) and time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=200)
            for part in batch.values():
                records.extend(part)
    finally:
        await consumer.stop()
    return records


async def eventually(
    check: Callable[[], Any], *, timeout: float = 30.0, interval: float = 0.1
) -> Any:
    """Await ``check()`` until it returns a truthy value; fail with its last value."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = check()
        if asyncio.iscoroutine(last):
            last = await last
        if last:
            return last
        await asyncio.sleep(interval)
    raise AssertionError(f"condition not met within {timeout}s; last value: {last!r}")
