"""POST /v1/orders takes the v2026-01-01 order shape as well as v0's; the adapter reads the
sandbox's static test cases as Amazon's models document them."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from spapi_standin.harness import SELLER_KEY, events_by_order
from spapi_standin.orders import iso, v2026_order
from spapi_standin.sandbox import GET_ORDER_2026_ID
from spapi_standin.server import StandIn

from ingest.amazon.adapters.spapi.http import (
    Buckets,
    RetryPolicy,
    SpApiHttp,
    SpApiRequestError,
    TokenCache,
)
from ingest.amazon.adapters.spapi.orders import V2026Reader
from ingest.amazon.domain.connections import Credentials, SpApiUnavailable
from ingest.intake.adapters import amazon_v0
from ingest.intake.domain.model import IncomingOrder
from orderflow_testkit.harness import RunningService

pytestmark = pytest.mark.integration

NOW = datetime.now(UTC)


async def test_v2026_order_posted_like_a_v0_one(spapi_ingest: RunningService) -> None:
    order = v2026_order(created=NOW - timedelta(hours=1), updated=NOW - timedelta(minutes=9))
    created = await spapi_ingest.client.post("/v1/orders", json=order, headers=SELLER_KEY)
    assert created.status_code == 201, created.text
    assert created.json() == {
        "amazon_order_id": order["orderId"],
        "result": "created",
        "version": 1,
    }
    again = await spapi_ingest.client.post(
        "/v1/orders", json={"order": order}, headers=SELLER_KEY
    )  # getOrder's wrapper
    assert again.json()["result"] == "unchanged"
    newer = order | {"lastUpdatedTime": iso(NOW - timedelta(minutes=1))}
    newer["fulfillment"] = order["fulfillment"] | {"fulfillmentStatus": "CANCELLED"}
    batch = await spapi_ingest.client.post(
        "/v1/orders/batch", json={"orders": [newer]}, headers=SELLER_KEY
    )
    assert batch.json()["results"][0]["result"] == "updated"

    events = (await events_by_order(spapi_ingest, {order["orderId"]}))[order["orderId"]]
    assert [(e.type, e.aggregateversion) for e in events] == [
        ("order.created", 1),
        ("order.updated", 2),
    ]
    snapshot = events[0].data
    assert snapshot["order_status"] == "Unshipped"
    assert snapshot["fulfillment_channel"] == "MFN"
    assert snapshot["items"][0]["item_price"] == {"amount": "39.98", "currency_code": "USD"}
    assert snapshot["ship_to"]["postal_code"] == "98101"
    assert snapshot["buyer_pii"]["ciphertext"] and "1200 Elm Street" not in str(snapshot)
    assert events[1].data["order_status"] == "Canceled"


async def test_bad_v2026_order_is_refused_naming_its_fields(spapi_ingest: RunningService) -> None:
    order = v2026_order(created=NOW, updated=NOW)
    del order["lastUpdatedTime"]
    order["fulfillment"]["fulfilledBy"] = "ROBOTS"
    answer = await spapi_ingest.client.post("/v1/orders", json=order, headers=SELLER_KEY)
    assert answer.status_code == 422
    fields = {e["field"] for e in answer.json()["errors"]}
    assert {"lastUpdatedTime", "fulfillment.fulfilledBy"} <= fields


def _http(standin: StandIn, client: httpx.AsyncClient) -> SpApiHttp:
    return SpApiHttp(
        client=client,
        base_url=standin.base_url,
        token_url=f"{standin.base_url}/auth/o2/token",
        credentials=Credentials(standin.client_id, standin.client_secret, standin.refresh_token),
        selling_partner_id=standin.seller_id,
        buckets=Buckets(scale=1000),
        tokens=TokenCache(),
        retry=RetryPolicy(max_attempts=2, base_seconds=0.01, cap_seconds=0.1),
    )


async def test_sandbox_static_cases(make_standin: Callable[..., StandIn]) -> None:
    standin = make_standin(scale=1000)
    async with httpx.AsyncClient() as client:
        http = _http(standin, client)
        listed = await http.get(
            "getOrders",
            "/orders/v0/orders",
            {"CreatedAfter": "TEST_CASE_200", "MarketplaceIds": "ATVPDKIKX0DER"},
        )
        parsed = [amazon_v0.parse(o) for o in listed["payload"]["Orders"]]
        assert [p.amazon_order_id for p in parsed if isinstance(p, IncomingOrder)] == [
            "902-1845936-5435065",
            "902-8745147-1934268",
        ]
        with pytest.raises(SpApiRequestError) as refused:
            await http.get("getOrders", "/orders/v0/orders", {"CreatedAfter": "TEST_CASE_400"})
        assert refused.value.status == 400
        assert refused.value.errors == [{"code": "InvalidInput", "message": "Invalid Input"}]

        v0_order = await http.get("getOrder", "/orders/v0/orders/TEST_CASE_200", {})
        assert v0_order["payload"]["AmazonOrderId"] == "902-3159896-1390916"

        reader = V2026Reader(http, ("A2Q3Y263D00KWC",))
        sample = await reader.order(GET_ORDER_2026_ID)
        assert isinstance(sample, IncomingOrder) and sample.order_status == "Unshipped"
        with pytest.raises(SpApiRequestError) as bad:
            await reader.order("TEST_CASE_400")
        assert bad.value.status == 400
        with pytest.raises(SpApiRequestError):
            await http.get(
                "searchOrders", "/orders/2026-01-01/orders", {"createdAfter": "TEST_CASE_400"}
            )
        assert await reader.order("111-1111111-1111111") is None  # 404: no such order
    assert standin.tokens_issued == 1  # one LWA token served every call


async def test_wrong_credentials_fail_clearly(make_standin: Callable[..., StandIn]) -> None:
    standin = make_standin(scale=1000)
    async with httpx.AsyncClient() as client:
        http = _http(standin, client)
        http.credentials = Credentials(standin.client_id, "wrong-secret", standin.refresh_token)
        with pytest.raises(
            SpApiUnavailable, match="LWA refused the credentials \\(401: invalid_client\\)"
        ) as failed:
            await V2026Reader(http, ("ATVPDKIKX0DER",)).order("111-1111111-1111111")
    assert "wrong-secret" not in str(failed.value)
