"""A connection's health over REST, after real passes of the poller against the stand-in:
LWA refusing the refresh token, SP-API throttling every try, a pause, and a healthy sync."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from spapi_standin.harness import SELLER_KEY, connect
from spapi_standin.server import Fault, StandIn

from ingest.amazon.service_layer.sync import poller_of
from orderflow_testkit.harness import RunningService

pytestmark = pytest.mark.integration


async def _shown(svc: RunningService, conn: dict[str, Any]) -> dict[str, Any]:
    response = await svc.client.get(f"/v1/connections/{conn['id']}", headers=SELLER_KEY)
    assert response.status_code == 200, response.text
    shown: dict[str, Any] = response.json()
    return shown


async def test_never_synced_then_ok_then_paused(
    make_standin: Callable[..., StandIn], spapi_ingest: RunningService
) -> None:
    standin = make_standin(scale=1000)
    since = datetime.now(UTC) - timedelta(days=1)
    conn = await connect(spapi_ingest, standin, sync_from=since)
    fresh = await _shown(spapi_ingest, conn)
    assert fresh["health"] == "never_synced"
    assert fresh["behind_seconds"] >= 24 * 3600 - 5
    assert await poller_of(spapi_ingest.resources).sync_once()
    synced = await _shown(spapi_ingest, conn)
    assert (synced["health"], synced["last_error"]) == ("ok", None)
    assert 110 <= synced["behind_seconds"] <= 180  # the two minutes Amazon may still write
    await spapi_ingest.client.post(f"/v1/connections/{conn['id']}/pause", headers=SELLER_KEY)
    assert (await _shown(spapi_ingest, conn))["health"] == "paused"


async def test_lwa_refusing_the_refresh_token_is_auth_failing(
    make_standin: Callable[..., StandIn], spapi_ingest: RunningService
) -> None:
    standin = make_standin(scale=1000)
    conn = await connect(spapi_ingest, standin, sync_from=datetime.now(UTC) - timedelta(hours=1))
    standin.refresh_token = "Atzr|issued-after-the-seller-re-authorised"  # ours is revoked
    assert await poller_of(spapi_ingest.resources).sync_once()
    shown = await _shown(spapi_ingest, conn)
    assert shown["health"] == "auth_failing"
    assert shown["last_error"].startswith("LWA refused the credentials (400: invalid_grant)")
    assert "invalid grant parameter" in shown["last_error"]  # LWA's error_description
    assert standin.requests_of("searchOrders") == []


async def test_429_to_every_try_is_throttled(
    make_standin: Callable[..., StandIn], spapi_ingest: RunningService
) -> None:
    standin = make_standin(scale=1000)
    standin.faults.append(Fault("searchOrders", 429, code="QuotaExceeded", message="quota"))
    conn = await connect(spapi_ingest, standin, sync_from=datetime.now(UTC) - timedelta(hours=1))
    assert await poller_of(spapi_ingest.resources).sync_once()
    shown = await _shown(spapi_ingest, conn)
    assert shown["health"] == "throttled"
    assert "searchOrders still 429 after 3 attempts" in shown["last_error"]
