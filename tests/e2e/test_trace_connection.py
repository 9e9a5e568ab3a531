"""The trace names the seller's Amazon connection: real ingest (its poller running against the
SP-API stand-in) and real analytics asking ingest's REST API, on the test Kafka and PostgreSQL.

A paused connection and one whose LWA refresh fails are each named in the trace of an order
that Amazon has and Orderflow never read, with the fix; another seller's trace of the same id
shows only that seller's own connections (none).
"""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from analytics.adapters.ingest_client import IngestClient
from analytics.bootstrap import SPEC as ANALYTICS
from analytics.settings import AnalyticsSettings
from ingest.bootstrap import SPEC as INGEST
from ingest.settings import IngestSettings
from orderflow_testkit.harness import RunningService, eventually, running_service

from .conftest import KEYS, PII_KEY

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from spapi_standin import StandIn, running_standin
from spapi_standin.harness import connection_body
from spapi_standin.orders import v2026_order

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(180)]

SELLER = "A2SELLER1EXAMPLE"
A = {"Authorization": "Bearer k-seller"}
OTHER = {"Authorization": "Bearer k-other"}
OPS_ALL = {"Authorization": "Bearer k-ops"}
US, UK = "ATVPDKIKX0DER", "A1F83G8C2ARO7P"


@pytest.fixture
def standin() -> Iterator[StandIn]:
    with running_standin(StandIn(seller_id=SELLER, scale=1000)) as running:
        yield running


@pytest.fixture
async def ingest(
    make_database: Callable[[str], str], kafka_bootstrap: str, topic_prefix: str
) -> AsyncIterator[RunningService]:
    """Ingest with its relay and its SP-API poller (fast passes, few retries)."""
    settings = IngestSettings(
        DATABASE_URL=make_database("ingest"),
        KAFKA_BOOTSTRAP_SERVERS=kafka_bootstrap,
        KAFKA_TOPIC_PREFIX=topic_prefix,
        ORDERFLOW_API_KEYS=KEYS,
        ORDERFLOW_PII_KEY=PII_KEY,
        SPAPI_POLLER_ENABLED=True,
        SPAPI_RATE_SCALE=1000.0,
        SPAPI_POLL_SECONDS=0.3,
        SPAPI_IDLE_SECONDS=0.1,
        SPAPI_MAX_ATTEMPTS=2,
        SPAPI_BACKOFF_SECONDS=0.05,
    )
    async with running_service(INGEST, settings, roles=("relay", "background")) as svc:
        yield svc


@pytest.fixture
async def analytics(
    make_database: Callable[[str], str],
    kafka_bootstrap: str,
    topic_prefix: str,
    ingest: RunningService,
) -> AsyncIterator[RunningService]:
    """Analytics asking the ingest above over its REST API with the peer key."""
    settings = AnalyticsSettings(
        DATABASE_URL=make_database("analytics"),
        KAFKA_BOOTSTRAP_SERVERS=kafka_bootstrap,
        KAFKA_TOPIC_PREFIX=topic_prefix,
        ORDERFLOW_API_KEYS=KEYS,
        ANALYTICS_SERVICE_API_KEY="k-ops",
    )
    async with running_service(ANALYTICS, settings, roles=("worker", "relay")) as svc:
        svc.resources.deps.ingest = IngestClient(ingest.client, api_key="k-ops")
        yield svc


async def _connect(ingest: RunningService, standin: StandIn) -> dict[str, Any]:
    since = datetime.now(UTC) - timedelta(hours=6)
    body = connection_body(standin, sync_from=since)
    made = await ingest.client.post("/v1/connections", json=body, headers=A)
    assert made.status_code == 201, made.text
    connection: dict[str, Any] = made.json()
    return connection


async def _health_becomes(ingest: RunningService, conn: dict[str, Any], health: str) -> None:
    async def reached() -> bool:
        shown = await ingest.client.get(f"/v1/connections/{conn['id']}", headers=A)
        return bool(shown.json()["health"] == health)

    await eventually(reached, timeout=30)


def _amazon_has_an_order(standin: StandIn) -> str:
    """An order at Amazon, updated an hour ago: the next pass of a working sync reads it."""
    now = datetime.now(UTC)
    order = v2026_order(created=now - timedelta(hours=2), updated=now - timedelta(hours=1))
    standin.put(order)
    return str(order["orderId"])


async def _trace(svc: RunningService, oid: str, headers: dict[str, str], **params: str) -> Any:
    """The trace once the pipeline has caught up: events still on their way make a finding of
    their own (``consumer_lagging``), which is not what these tests are about."""

    async def settled() -> Any:
        answer = await svc.client.get(f"/v1/orders/{oid}/trace", headers=headers, params=params)
        return answer if "consumer_lagging" not in _codes(answer.json()) else None

    return await eventually(settled, timeout=60)


def _codes(body: dict[str, Any]) -> list[str]:
    return [f["code"] for f in body["diagnosis"]]


async def test_a_paused_connection_is_named_with_the_fix(
    standin: StandIn, ingest: RunningService, analytics: RunningService
) -> None:
    conn = await _connect(ingest, standin)
    first = _amazon_has_an_order(standin)
    await _health_becomes(ingest, conn, "ok")
    paused = await ingest.client.post(f"/v1/connections/{conn['id']}/pause", headers=A)
    assert paused.json()["health"] == "paused"
    missing = _amazon_has_an_order(standin)  # at Amazon; never read: the connection is paused

    answer = await _trace(analytics, missing, A)
    assert answer.status_code == 404
    body = answer.json()
    assert _codes(body) == ["never_received", "amazon_connection_paused"]
    finding = body["diagnosis"][1]
    assert f"POST /v1/connections/{conn['id']}/resume" in finding["message"]
    assert finding["details"]["connection_id"] == conn["id"]
    assert finding["details"]["last_sync_at"] is not None
    [shown] = body["connection"]["connections"]
    assert (shown["id"], shown["status"], shown["health"]) == (conn["id"], "paused", "paused")
    assert body["connection"]["marketplace_id"] is None  # unknown order: every connection

    # An order that was read: its marketplace's connection, paused, so its changes stop.
    known = await _trace(analytics, first, A)
    assert known.status_code == 200, known.text
    assert known.json()["connection"]["marketplace_id"] == US
    assert _codes(known.json()) == ["amazon_connection_paused"]
    # Asked for a marketplace no connection reads: none, and how to connect.
    elsewhere = (await _trace(analytics, missing, A, marketplace_id=UK)).json()
    assert _codes(elsewhere) == ["never_received", "amazon_not_connected"]
    assert "POST /v1/connections" in elsewhere["diagnosis"][1]["message"]


async def test_a_failing_lwa_refresh_is_named_with_lwas_error(
    standin: StandIn, ingest: RunningService, analytics: RunningService
) -> None:
    conn = await _connect(ingest, standin)
    standin.refresh_token = "Atzr|only-the-re-authorised-app-has-this"  # the seller's is revoked
    missing = _amazon_has_an_order(standin)
    await _health_becomes(ingest, conn, "auth_failing")

    body = (await _trace(analytics, missing, A)).json()
    assert _codes(body) == ["never_received", "amazon_auth_failing"]
    message = body["diagnosis"][1]["message"]
    assert "LWA refused the credentials (400: invalid_grant)" in message
    assert "re-authorise the app in Seller Central" in message
    assert body["connection"]["connections"][0]["health"] == "auth_failing"

    # Another seller's trace of the same id shows that seller's own connections: none.
    theirs = await _trace(analytics, missing, OTHER)
    assert theirs.status_code == 404
    assert _codes(theirs.json()) == ["never_received", "amazon_not_connected"]
    assert theirs.json()["connection"]["connections"] == []
    assert conn["id"] not in theirs.text and "invalid_grant" not in theirs.text
    # Ops without X-Seller-Id: no seller to look up for an order nobody has.
    ops = (await _trace(analytics, missing, OPS_ALL)).json()
    assert ops["connection"] is None and _codes(ops) == ["never_received"]
