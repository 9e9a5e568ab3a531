"""Every error log line carries a correlation id: the request's, the event's, or the
unit of work's (a worker, the relay, a background job).

An unhandled error used to be answered and logged by Starlette's ServerErrorMiddleware, which
runs outside every middleware, after ``RequestContextMiddleware`` had unbound the request's id:
every such line had ``"correlation_id": null``, the 500 had no ``X-Correlation-Id``, and uvicorn
logged the error a second time. The consumer bound an event's id only while its handler ran, so
its "retrying" and "dead-lettering" lines had none either.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import logging
from collections.abc import Iterator
from typing import Any

import httpx
import orjson
import pytest
from aiokafka import AIOKafkaProducer
from fastapi import APIRouter

from orderflow_testkit.harness import RunningService, eventually
from shared import topics
from shared.api.app import create_app
from shared.logs import correlated, correlation_id, json_handler
from shared.settings import ServiceSettings

from .conftest import FAILING, order_event, plumbing

SERVICE = "probe"


@contextlib.contextmanager
def json_lines() -> Iterator[list[dict[str, Any]]]:
    """Every log line written while the block runs, as the services write them (JSON)."""
    stream = io.StringIO()
    handler = json_handler(stream, service=SERVICE)
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    lines: list[dict[str, Any]] = []
    try:
        yield lines
    finally:
        root.removeHandler(handler)
        root.setLevel(level)
        lines.extend(orjson.loads(line) for line in stream.getvalue().splitlines())


def _errors(lines: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [line for line in lines if line["level"] in ("WARNING", "ERROR", "CRITICAL")]


def _app() -> Any:
    router = APIRouter()

    @router.get("/boom")
    async def boom() -> None:
        raise RuntimeError("a bug")

    @router.get("/down")
    async def down() -> None:
        raise ConnectionRefusedError("the database is down")

    settings = ServiceSettings(service_name=SERVICE, ORDERFLOW_API_KEYS="k=ops")
    return create_app(settings=settings, title="t", description="t", routers=[router])


async def _get(path: str, headers: dict[str, str] | None = None) -> httpx.Response:
    # raise_app_exceptions: an error that reached the server (which logs it again, with no
    # correlation id) fails the request here instead of being answered.
    transport = httpx.ASGITransport(app=_app(), raise_app_exceptions=True)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        return await client.get(path, headers=headers)


@pytest.mark.unit
async def test_an_unhandled_error_is_logged_once_with_the_requests_correlation_id() -> None:
    with json_lines() as lines:
        response = await _get("/boom", {"X-Correlation-Id": "req-7f3a"})
    assert response.status_code == 500
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.headers["x-correlation-id"] == "req-7f3a"
    assert "a bug" not in response.text  # no detail of the error in the answer
    [error] = _errors(lines)
    assert (error["message"], error["level"]) == ("unhandled error", "ERROR")
    assert error["correlation_id"] == "req-7f3a"
    assert error["service"] == SERVICE
    assert "RuntimeError: a bug" in error["exc_info"]  # the traceback is in the line


@pytest.mark.unit
async def test_without_a_correlation_id_the_one_made_for_the_request_is_logged_and_answered() -> (
    None
):
    with json_lines() as lines:
        response = await _get("/boom")
    [error] = _errors(lines)
    assert (
        error["correlation_id"] and error["correlation_id"] == response.headers["x-correlation-id"]
    )


@pytest.mark.unit
async def test_a_dependency_down_answers_503_and_logs_it_with_the_correlation_id() -> None:
    with json_lines() as lines:
        response = await _get("/down", {"X-Correlation-Id": "req-down"})
    assert response.status_code == 503 and response.headers["retry-after"] == "2"
    assert response.headers["x-correlation-id"] == "req-down"
    [warning] = _errors(lines)
    assert warning["message"] == "dependency unavailable"
    assert warning["correlation_id"] == "req-down"


@pytest.mark.unit
def test_work_that_is_no_request_or_event_has_a_correlation_id_of_its_own() -> None:
    log = logging.getLogger("probe.job")
    with json_lines() as lines:
        with correlated("probe-ship_clock") as cid:
            log.error("a job failed")
        log.error("outside any unit of work")
    assert cid.startswith("probe-ship_clock-")
    assert [line["correlation_id"] for line in lines] == [cid, None]
    assert correlation_id.get() is None


async def _produce(svc: RunningService, key: str, *values: bytes) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=svc.resources.settings.kafka_bootstrap_servers)
    await producer.start()
    try:
        for value in values:
            await producer.send_and_wait(
                svc.resources.settings.topic(topics.ORDERS), value, key=key.encode()
            )
    finally:
        await producer.stop()


async def _dead(svc: RunningService) -> int:
    async with svc.resources.sessions() as session:
        rows = await session.execute(plumbing.dead_letters.select())
        return len(rows.all())


@pytest.mark.integration
async def test_consumer_error_lines_carry_the_events_correlation_id(
    probe: RunningService,
) -> None:
    key = "111-0000009-0000009"
    FAILING.add("FAIL-ME")
    failing = order_event(key, seller_order_id="FAIL-ME").model_copy(
        update={"correlationid": "req-from-the-api"}
    )
    uncorrelated = order_event(key, seller_order_id="FAIL-ME")
    with json_lines() as lines:
        await _produce(probe, key, failing.to_bytes(), uncorrelated.to_bytes(), b"{not json")
        await eventually(lambda: _dead_count_is(probe, 3), timeout=30)
        await asyncio.sleep(0.2)
    errors = [e for e in _errors(lines) if e["logger"] == "shared.messaging.runner"]
    by_id: dict[str, list[str]] = {}
    for line in errors:
        by_id.setdefault(str(line["correlation_id"]), []).append(line["message"])
    dead_lettering = ["handler failed; retrying"] * 2 + ["dead-lettering message"]
    assert by_id.pop("req-from-the-api") == dead_lettering  # the event's own correlation id
    assert by_id.pop(str(uncorrelated.id)) == dead_lettering  # none: its event id
    [(where, [poison])] = by_id.items()  # not even an envelope: where it is on Kafka
    assert where.startswith(f"kafka:{probe.resources.settings.topic(topics.ORDERS)}/")
    assert poison == "dead-lettering message"
    ours = [e for e in _errors(lines) if e["logger"].startswith("shared.")]
    assert all(line["correlation_id"] for line in ours), ours


async def _dead_count_is(svc: RunningService, n: int) -> bool:
    return await _dead(svc) >= n
