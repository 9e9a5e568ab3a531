"""The real ``python -m ingest all`` process: migrate, serve over HTTP, publish, stop cleanly."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from shared.envelope import CloudEvent
from shared.samples import amazon_order
from shared.testing import read_topic

pytestmark = pytest.mark.e2e

PII_KEY = "n_BqP4SNyVeTHYn4Gjx04lJgXmwo1DbEEpWiUaOM2Qs="


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def ingest_process(
    make_database: Callable[[str], str], kafka_bootstrap: str, topic_prefix: str, tmp_path: Path
) -> Iterator[tuple[str, dict[str, str]]]:
    port = _free_port()
    env = {
        **os.environ,
        "DATABASE_URL": make_database("ingest_proc"),
        "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
        "KAFKA_TOPIC_PREFIX": f"{topic_prefix}proc.",
        "HTTP_PORT": str(port),
        "ORDERFLOW_API_KEYS": "k-seller=seller:A2SELLER1EXAMPLE",
        "ORDERFLOW_PII_KEY": PII_KEY,
    }
    subprocess.run(
        [sys.executable, "-m", "ingest", "migrate"],
        env=env,
        check=True,
        capture_output=True,
        timeout=120,
    )
    log = (tmp_path / "ingest.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "ingest", "all"], env=env, stdout=log, stderr=subprocess.STDOUT
    )
    try:
        yield f"http://127.0.0.1:{port}", env
    finally:
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=30)
        log.close()
        assert code == 0, (tmp_path / "ingest.log").read_text()[-3000:]


def _wait_ready(url: str) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise AssertionError("ingest did not become ready")


async def test_order_posted_over_http_reaches_orders_v1(
    ingest_process: tuple[str, dict[str, str]],
) -> None:
    url, env = ingest_process
    await asyncio.to_thread(_wait_ready, url)
    order = amazon_order()
    async with httpx.AsyncClient(base_url=url, timeout=10) as client:
        response = await client.post(
            "/v1/orders", json=order, headers={"Authorization": "Bearer k-seller"}
        )
        assert response.status_code == 201
        assert response.headers["x-correlation-id"]
        metrics = await client.get("/metrics")
        assert "orderflow_http_requests_total" in metrics.text
        docs = await client.get("/openapi.json")
        assert "AmazonOrder" in docs.json()["components"]["schemas"]
    topic = f"{env['KAFKA_TOPIC_PREFIX']}orders.v1"
    records = await read_topic(env["KAFKA_BOOTSTRAP_SERVERS"], topic, until=lambda rs: len(rs) >= 1)
    event = CloudEvent.from_bytes(records[0].value)
    assert (event.type, event.subject) == ("order.created", order["AmazonOrderId"])
    assert event.correlationid == response.headers["x-correlation-id"]
