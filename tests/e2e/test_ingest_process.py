"""The real ``python -m ingest all`` process: migrate, serve over HTTP, publish, stop cleanly;
over real HTTP (uvicorn), a chunked body over ``MAX_BODY_BYTES`` is a 413 problem too."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import httpx
import pytest

from orderflow_testkit.harness import read_topic
from orderflow_testkit.samples import amazon_order
from shared.messaging.envelope import CloudEvent

from .conftest import ServiceProcess

pytestmark = pytest.mark.e2e


async def _chunks(size: int) -> AsyncIterator[bytes]:
    while size > 0:
        yield b" " * min(size, 65536)
        size -= 65536


async def test_order_posted_over_http_reaches_orders_v1(
    start_service: Callable[..., ServiceProcess],
) -> None:
    ingest = await asyncio.to_thread(start_service, "ingest")
    order = amazon_order()
    async with httpx.AsyncClient(base_url=ingest.url, timeout=10) as client:
        response = await client.post(
            "/v1/orders", json=order, headers={"Authorization": "Bearer k-seller"}
        )
        assert response.status_code == 201
        assert response.headers["x-correlation-id"]
        metrics = await client.get("/metrics")
        assert "orderflow_http_requests_total" in metrics.text
        docs = await client.get("/openapi.json")
        assert "AmazonOrder" in docs.json()["components"]["schemas"]
        too_large = await client.post(
            "/v1/orders/batch",
            content=_chunks(5 * 1024 * 1024 + 1),
            headers={"Authorization": "Bearer k-seller", "content-type": "application/json"},
        )
        assert too_large.status_code == 413, too_large.text
        assert too_large.headers["content-type"] == "application/problem+json"
        assert "MAX_BODY_BYTES" in too_large.json()["detail"]
    topic = f"{ingest.env['KAFKA_TOPIC_PREFIX']}orders.v1"
    records = await read_topic(
        ingest.env["KAFKA_BOOTSTRAP_SERVERS"], topic, until=lambda rs: len(rs) >= 1
    )
    event = CloudEvent.from_bytes(records[0].value)
    assert (event.type, event.subject) == ("order.created", order["AmazonOrderId"])
    assert event.correlationid == response.headers["x-correlation-id"]
