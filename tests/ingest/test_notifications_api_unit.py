"""The Notifications API client without a network (httpx.MockTransport): destinations with a
grantless token, a destination reused by ARN or read back after a 409, a subscription read back
after a 409, and a refusal that is not a conflict raised as it is."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import parse_qs

import httpx
import pytest

from ingest.amazon.adapters.spapi.http import Buckets, RetryPolicy, SpApiHttp, SpApiRequestError
from ingest.amazon.adapters.spapi.http import TokenCache as SellerTokens
from ingest.amazon.adapters.spapi.notifications_api import SCOPE, NotificationsApi
from ingest.amazon.domain.connections import Credentials

pytestmark = pytest.mark.unit

ARN = "arn:aws:sqs:us-east-1:123456789012:orderflow-notifications"
DESTINATION = {"name": "orderflow", "destinationId": "dest-1", "resource": {"sqs": {"arn": ARN}}}
Handler = Callable[[httpx.Request], httpx.Response]


async def _no_sleep(_: float) -> None:
    return None


def _api(answer: Handler, seen: list[tuple[str, str, str]]) -> NotificationsApi:
    """``seen``: (method, path, token) of every SP-API call; LWA answers by grant."""

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/auth/o2/token":
            form = {k: v[0] for k, v in parse_qs(request.content.decode()).items()}
            if form["grant_type"] == "client_credentials":
                assert form["scope"] == SCOPE and "refresh_token" not in form
                return httpx.Response(200, json={"access_token": "grantless", "expires_in": 3600})
            return httpx.Response(200, json={"access_token": "seller", "expires_in": 3600})
        token = request.headers["x-amz-access-token"]
        seen.append((request.method, request.url.path, token))
        return answer(request)

    http = SpApiHttp(
        client=httpx.AsyncClient(transport=httpx.MockTransport(handler)),
        base_url="https://sellingpartnerapi-na.amazon.com",
        token_url="https://api.amazon.com/auth/o2/token",
        credentials=Credentials("id", "secret", "refresh"),
        selling_partner_id="A2SELLER1EXAMPLE",
        buckets=Buckets(scale=1000, sleep=_no_sleep),
        tokens=SellerTokens(),
        retry=RetryPolicy(max_attempts=2, base_seconds=0.0, cap_seconds=0.0),
        sleep=_no_sleep,
    )
    return NotificationsApi(http)


def _conflict() -> httpx.Response:
    return httpx.Response(409, json={"errors": [{"code": "Conflict", "message": "exists"}]})


async def test_an_existing_destination_is_reused_with_a_grantless_token() -> None:
    seen: list[tuple[str, str, str]] = []
    api = _api(lambda r: httpx.Response(200, json={"payload": [DESTINATION]}), seen)
    found = await api.destination_for(arn=ARN, name="orderflow")
    assert (found.destination_id, found.arn) == ("dest-1", ARN)
    assert seen == [("GET", "/notifications/v1/destinations", "grantless")]


async def test_a_destination_made_meanwhile_is_read_back_after_409() -> None:
    listed: list[list[dict[str, object]]] = [[], [DESTINATION]]

    def answer(request: httpx.Request) -> httpx.Response:
        if request.method == "POST":
            return _conflict()
        return httpx.Response(200, json={"payload": listed.pop(0)})

    seen: list[tuple[str, str, str]] = []
    found = await _api(answer, seen).destination_for(arn=ARN, name="orderflow")
    assert found.destination_id == "dest-1"
    calls = [(method, token) for method, _, token in seen]
    assert calls == [("GET", "grantless"), ("POST", "grantless"), ("GET", "grantless")]


async def test_an_existing_subscription_is_read_back_with_the_sellers_token() -> None:
    existing = {"subscriptionId": "sub-1", "payloadVersion": "1.0", "destinationId": "dest-1"}

    def answer(request: httpx.Request) -> httpx.Response:
        if request.method == "POST":
            assert request.content and b'"destinationId":"dest-1"' in request.content
            return _conflict()
        return httpx.Response(200, json={"payload": existing})

    seen: list[tuple[str, str, str]] = []
    api = _api(answer, seen)
    found = await api.subscribe("ORDER_CHANGE", destination_id="dest-1", payload_version="1.0")
    assert (found.subscription_id, found.destination_id) == ("sub-1", "dest-1")
    path = "/notifications/v1/subscriptions/ORDER_CHANGE"
    assert seen == [("POST", path, "seller"), ("GET", path, "seller")]


async def test_a_refusal_other_than_a_conflict_is_raised() -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(400, json={"errors": [{"code": "InvalidInput", "message": "no"}]})

    api = _api(answer, [])
    with pytest.raises(SpApiRequestError) as refused:
        await api.subscribe("ORDER_CHANGE", destination_id="dest-1", payload_version="1.0")
    assert refused.value.status == 400
