"""In the production layout a service's ``worker`` and ``relay`` run as processes of
their own, with no API. Each still answers ``/healthz``, ``/readyz`` and ``/metrics`` on its
``OPS_PORT``, so the orchestrator can probe it and Prometheus can scrape what only it counts:
events consumed and dead-lettered (worker), outbox rows published (relay).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from orderflow_testkit.harness import eventually
from orderflow_testkit.samples import amazon_order, order_id

from .conftest import ServiceProcess

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]

A = {"Authorization": "Bearer k-seller"}


async def _samples(client: httpx.AsyncClient, service: ServiceProcess, metric: str) -> list[Any]:
    response = await client.get(f"{service.url}/metrics")
    assert response.status_code == 200, response.text
    return [
        sample
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
        if sample.name == metric
    ]


async def test_worker_and_relay_processes_answer_health_readiness_and_metrics(
    start_service: Callable[..., ServiceProcess],
) -> None:
    ingest = start_service("ingest", "api")
    relay = start_service("ingest", "relay", database_url=ingest.env["DATABASE_URL"])
    worker = start_service("fulfillment", "worker")
    topic = f"{worker.env['KAFKA_TOPIC_PREFIX']}orders.v1"
    ids = [order_id() for _ in range(5)]

    async with httpx.AsyncClient(timeout=30) as client:
        orders = [amazon_order(amazon_order_id=oid) for oid in ids]
        response = await client.post(
            f"{ingest.url}/v1/orders/batch", json={"orders": orders}, headers=A
        )
        assert response.status_code == 200, response.text

        async def published() -> float | None:
            found = await _samples(client, relay, "orderflow_outbox_published_total")
            total = sum(s.value for s in found if s.labels == {"service": "ingest"})
            return total if total >= len(ids) else None

        async def applied() -> float | None:
            found = await _samples(client, worker, "orderflow_events_consumed_total")
            mine = {"service": "fulfillment", "topic": topic, "outcome": "applied"}
            total = sum(s.value for s in found if s.labels == mine)
            return total if total >= len(ids) else None

        assert await eventually(published, timeout=60) == len(ids)
        assert await eventually(applied, timeout=60) == len(ids)
        handled = await _samples(client, worker, "orderflow_event_handle_seconds_count")
        assert {s.labels["topic"] for s in handled} == {topic}
        # What shows a stall (docs/operations/stall-detection.md), from the processes that run
        # the relay and the worker.
        rounds = await _samples(client, relay, "orderflow_outbox_last_success_timestamp_seconds")
        assert [s.value > 0 for s in rounds] == [True]
        applied_at = await _samples(
            client, worker, "orderflow_consumer_last_applied_timestamp_seconds"
        )
        assert [s.value > 0 for s in applied_at] == [True]
        lags = await _samples(client, worker, "orderflow_consumer_lag")
        assert {s.labels["topic"] for s in lags} >= {topic}
        stalled = await _samples(client, worker, "orderflow_stalled")
        assert [(s.labels["role"], s.value) for s in stalled] == [("worker", 0.0)]

        for process in (relay, worker):
            ready = await client.get(f"{process.url}/readyz")
            assert ready.status_code == 200, ready.text
            checks = {"database": "ok", "kafka": "ok", "progress": "ok"}  # progress: not stalled
            assert ready.json()["checks"] == checks
            assert (await client.get(f"{process.url}/healthz")).json() == {"status": "ok"}
            # only the ops endpoints: the API stays in the api role
            listed = await client.get(f"{process.url}/v1/orders", headers=A)
            assert listed.status_code == 404
