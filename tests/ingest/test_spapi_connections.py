"""/v1/connections: seller-scoped CRUD, credentials sealed and never shown, states checked."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest
from spapi_standin.harness import SELLER_KEY, connection_body
from spapi_standin.server import StandIn
from sqlalchemy import select

from ingest.adapters import orm
from orderflow_testkit.harness import RunningService

pytestmark = pytest.mark.integration

SINCE = datetime.now(UTC) - timedelta(days=1)
OTHER_KEY = {"Authorization": "Bearer other-key"}
OPS_KEY = {"Authorization": "Bearer ops-key"}
SYS_KEY = {"Authorization": "Bearer sys-key"}


def _body(**over: Any) -> dict[str, Any]:
    standin = StandIn(seller_id="A2SELLER1EXAMPLE")
    standin.base_url = "http://127.0.0.1:9"
    return connection_body(standin, sync_from=SINCE, **over)


async def test_add_list_pause_resume_remove(spapi_ingest: RunningService) -> None:
    client = spapi_ingest.client
    created = await client.post("/v1/connections", json=_body(), headers=SELLER_KEY)
    assert created.status_code == 201, created.text
    conn = created.json()
    assert conn["status"] == "active"
    assert conn["orders_api"] == "v2026-01-01"  # the default
    assert conn["seller_id"] == "A2SELLER1EXAMPLE"
    assert conn["client_id_hint"] == "…ndin"
    path = f"/v1/connections/{conn['id']}"

    listed = await client.get("/v1/connections", headers=SELLER_KEY)
    assert [c["id"] for c in listed.json()["items"]] == [conn["id"]]
    assert (await client.get("/v1/connections", headers=OTHER_KEY)).json()["items"] == []
    assert (await client.get(path, headers=OTHER_KEY)).status_code == 404
    assert [
        c["id"] for c in (await client.get("/v1/connections", headers=OPS_KEY)).json()["items"]
    ] == [conn["id"]]

    paused = await client.post(f"{path}/pause", headers=SELLER_KEY)
    assert paused.json()["status"] == "paused"
    again = await client.post(f"{path}/pause", headers=SELLER_KEY)
    assert again.status_code == 409
    assert "Cannot pause a connection that is paused" in again.json()["detail"]
    assert (await client.post(f"{path}/resume", headers=SELLER_KEY)).json()["status"] == "active"

    assert (await client.delete(path, headers=OTHER_KEY)).status_code == 404
    assert (await client.delete(path, headers=SELLER_KEY)).status_code == 204
    assert (await client.get(path, headers=SELLER_KEY)).status_code == 404


async def test_secrets_are_sealed_and_never_answered(spapi_ingest: RunningService) -> None:
    body = _body()
    created = await spapi_ingest.client.post("/v1/connections", json=body, headers=SELLER_KEY)
    listed = await spapi_ingest.client.get("/v1/connections", headers=SELLER_KEY)
    secret, refresh = body["credentials"]["client_secret"], body["credentials"]["refresh_token"]
    for text in (created.text, listed.text):
        assert secret not in text and refresh not in text
        assert body["credentials"]["client_id"] not in text
    async with spapi_ingest.resources.sessions() as session:
        stored = (await session.execute(select(orm.spapi_connections))).one()
    assert secret not in stored.sealed_credentials and refresh not in stored.sealed_credentials
    assert orjson.loads(stored.sealed_credentials)["key_id"]


async def test_one_connection_per_partner_and_region(spapi_ingest: RunningService) -> None:
    client = spapi_ingest.client
    assert (
        await client.post("/v1/connections", json=_body(), headers=SELLER_KEY)
    ).status_code == 201
    dup = await client.post("/v1/connections", json=_body(), headers=SELLER_KEY)
    assert dup.status_code == 409
    eu = _body(region="EU", marketplace_ids=["A1PA6795UKMFR9"], orders_api="v0")
    made = await client.post("/v1/connections", json=eu, headers=SELLER_KEY)
    assert made.status_code == 201 and made.json()["orders_api"] == "v0"


async def test_bad_input_and_roles(spapi_ingest: RunningService) -> None:
    client = spapi_ingest.client
    bad = await client.post(
        "/v1/connections", json=_body(endpoint="ftp://x", region="SA"), headers=SELLER_KEY
    )
    assert bad.status_code == 422
    assert {"endpoint", "region"} <= {e["field"].split(".")[-1] for e in bad.json()["errors"]}
    assert (await client.post("/v1/connections", json=_body(), headers=OPS_KEY)).status_code == 403
    no_seller = await client.post("/v1/connections", json=_body(), headers=SYS_KEY)
    assert no_seller.status_code == 400
    sys = await client.post(
        "/v1/connections", json=_body(), headers=SYS_KEY | {"X-Seller-Id": "A3SELLER2EXAMPLE"}
    )
    assert sys.status_code == 201 and sys.json()["seller_id"] == "A3SELLER2EXAMPLE"
    sandbox = await client.post(
        "/v1/connections",
        json=_body(endpoint="sandbox", region="FE", marketplace_ids=["A1VC38T7YXB528"]),
        headers=SELLER_KEY,
    )
    assert sandbox.status_code == 201 and sandbox.json()["endpoint"] == "sandbox"


async def test_only_allowed_hosts_can_be_named(spapi_ingest: RunningService) -> None:
    """A seller's connection cannot make ingest call arbitrary addresses (no SSRF)."""
    client = spapi_ingest.client
    inside = await client.post(
        "/v1/connections",
        json=_body(endpoint="http://10.1.2.3:8080", lwa_token_url="https://evil.example/token"),
        headers=SELLER_KEY,
    )
    assert inside.status_code == 422
    assert {e["field"] for e in inside.json()["errors"]} == {"body.endpoint", "body.lwa_token_url"}
    amazon = await client.post(
        "/v1/connections",
        json=_body(endpoint="production", lwa_token_url="https://api.amazon.com/auth/o2/token"),
        headers=SELLER_KEY,
    )
    assert amazon.status_code == 201
