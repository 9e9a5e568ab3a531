"""What the seller's Amazon connections tell of an order not showing, with the fix (pure); the
trace on fakes (the connection of the order's marketplace, the seller's own only); the adapter."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from analytics.adapters.ingest_client import IngestClient, NoIngest
from analytics.domain.amazon_connection import AmazonConnection, connection_findings, reading
from analytics.domain.diagnosis import KnownOrder, TraceFacts, diagnose
from analytics.domain.errors import NotThisSellersOrder
from analytics.entrypoints.kafka.handlers import handlers
from analytics.service_layer.ports import Unreachable
from analytics.service_layer.trace import TracePorts, TraceRequest, trace
from shared import topics
from shared.events import orders
from shared.events.orders import OrderSnapshot
from shared.events.registry import build_event
from tests.analytics.factories import snapshot
from tests.analytics.fakes import FakeIngest, FakeLag, FakeUnitOfWork, Store

pytestmark = pytest.mark.unit

SELLER = "A2SELLER1EXAMPLE"
OTHER = "A3SELLER2EXAMPLE"
NOW = datetime(2026, 6, 1, 12, tzinfo=UTC)
US, UK = "ATVPDKIKX0DER", "A1F83G8C2ARO7P"


def _connection(health: str = "ok", **over: Any) -> AmazonConnection:
    facts: dict[str, Any] = {
        "id": "c-na",
        "selling_partner_id": "A2PARTNER",
        "region": "NA",
        "marketplace_ids": (US,),
        "status": "paused" if health == "paused" else "active",
        "health": health,
        "behind_seconds": 3 * 3600,
        "last_sync_at": NOW - timedelta(hours=3),
        "last_error": None,
    }
    return AmazonConnection(**(facts | over))


def _codes(connections: list[AmazonConnection], *, received: bool = False) -> list[str]:
    seen = reading(US, connections)
    return [f.code for f in connection_findings(seen, received=received)]


def test_each_state_names_its_fix() -> None:
    paused, *_ = connection_findings(reading(US, [_connection("paused")]), received=False)
    assert paused.code == "amazon_connection_paused"
    assert "POST /v1/connections/c-na/resume" in paused.message
    assert "3 hours behind" in paused.message and "2026-06-01 09:00" in paused.message
    lwa = "LWA refused the credentials (400: invalid_grant): The request has an invalid grant"
    [auth] = connection_findings(
        reading(US, [_connection("auth_failing", last_error=lwa)]), received=False
    )
    assert auth.code == "amazon_auth_failing"
    assert lwa in auth.message and "re-authorise the app in Seller Central" in auth.message
    assert auth.details["last_error"] == lwa and auth.details["connection_id"] == "c-na"
    [throttled] = connection_findings(reading(US, [_connection("throttled")]), received=False)
    assert throttled.code == "amazon_throttled" and "wait" in throttled.message
    assert _codes([_connection("behind")]) == ["amazon_sync_behind"]
    assert _codes([_connection("failing", last_error="SP-API answered 500")]) == [
        "amazon_sync_failing"
    ]
    assert _codes([_connection("ok")]) == []


def test_none_and_a_first_sync_explain_only_an_order_that_is_not_here() -> None:
    [none] = connection_findings(reading(US, [_connection(marketplace_ids=(UK,))]), received=False)
    assert none.code == "amazon_not_connected"
    assert US in none.message and "POST /v1/connections" in none.message
    assert _codes([], received=True) == []
    assert _codes([_connection("never_synced", last_sync_at=None)]) == ["amazon_first_sync"]
    assert _codes([_connection("never_synced", last_sync_at=None)], received=True) == []
    assert _codes([_connection("paused")], received=True) == ["amazon_connection_paused"]


def test_an_unknown_marketplace_looks_at_every_connection() -> None:
    eu = _connection("auth_failing", id="c-eu", region="EU", marketplace_ids=(UK,))
    seen = reading(None, [_connection("ok"), eu])
    assert [c.id for c in seen.connections] == ["c-na", "c-eu"]
    assert [f.code for f in connection_findings(seen, received=False)] == ["amazon_auth_failing"]


def test_the_diagnosis_puts_the_connection_after_intake() -> None:
    facts = TraceFacts(
        amazon_order_id="x",
        now=NOW,
        viewer_seller=SELLER,
        connections=reading(US, [_connection("paused")]),
    )
    assert [f.code for f in diagnose(facts)] == ["never_received", "amazon_connection_paused"]
    known = KnownOrder(SELLER, "Pending", NOW, US)
    received = dataclasses.replace(facts, at_ingest=known)
    assert [f.code for f in diagnose(received)] == ["amazon_connection_paused", "pending_hidden"]


# --- the trace on fakes ------------------------------------------------------------------


def _ports(ingest: FakeIngest) -> TracePorts:
    return TracePorts(
        ingest=ingest, lag=FakeLag(), group="g", orders_topic=topics.ORDERS, lag_threshold=100
    )


def _ingest(**connected: list[AmazonConnection]) -> FakeIngest:
    return FakeIngest(connected=dict(connected))


async def _stored(store: Store, order: OrderSnapshot) -> None:
    """The order as analytics' consumer applies its ``order.created``."""
    event = build_event(
        topic=topics.ORDERS,
        event_type=orders.ORDER_CREATED,
        payload=order,
        source="ingest",
        subject=order.amazon_order_id,
        seller_id=order.seller_id,
        version=1,
    )
    uow = FakeUnitOfWork(store)
    async with uow:
        await handlers()[orders.ORDER_CREATED](uow, event, order)
        await uow.commit()


async def test_an_order_nowhere_reports_every_connection_of_the_viewer_only() -> None:
    ingest = _ingest(
        A2SELLER1EXAMPLE=[_connection("paused")],
        A3SELLER2EXAMPLE=[_connection("auth_failing", id="theirs")],
    )
    ask = TraceRequest("111-0000000-0000009", SELLER, None, NOW)
    with pytest.raises(NotThisSellersOrder) as raised:
        await trace(FakeUnitOfWork(Store()), ask, _ports(ingest))
    codes = [f["code"] for f in raised.value.findings]
    assert codes == ["never_received", "amazon_connection_paused"]
    assert raised.value.connection is not None
    assert [c["id"] for c in raised.value.connection["connections"]] == ["c-na"]
    assert ingest.asked_connections == [SELLER]


async def test_another_sellers_order_shows_the_same_as_an_unknown_id() -> None:
    store = Store()
    order = snapshot(purchased=NOW, seller=OTHER)
    await _stored(store, order)
    ingest = _ingest(A2SELLER1EXAMPLE=[_connection("paused", marketplace_ids=(UK,))])
    answers = []
    for oid in (order.amazon_order_id, "111-9999999-9999999"):
        with pytest.raises(NotThisSellersOrder) as raised:
            await trace(FakeUnitOfWork(store), TraceRequest(oid, SELLER, None, NOW), _ports(ingest))
        answers.append((raised.value.findings[1:], raised.value.connection))
    assert answers[0] == answers[1]  # the order's marketplace (US) chose nothing
    assert answers[0][1]["marketplace_id"] is None  # type: ignore[index]


async def test_a_known_order_reports_its_marketplaces_connection() -> None:
    store = Store()
    order = snapshot(purchased=NOW)
    await _stored(store, order)
    eu = _connection("auth_failing", id="c-eu", region="EU", marketplace_ids=(UK,))
    ingest = _ingest(A2SELLER1EXAMPLE=[_connection("throttled"), eu])
    for viewer in (SELLER, None):  # ops without X-Seller-Id: the order's seller's connections
        ask = TraceRequest(order.amazon_order_id, viewer, None, NOW)
        found = await trace(FakeUnitOfWork(store), ask, _ports(ingest))
        assert found["connection"]["marketplace_id"] == order.marketplace_id
        assert [c["id"] for c in found["connection"]["connections"]] == ["c-na"]
        assert [f["code"] for f in found["diagnosis"]] == ["amazon_throttled"]
    assert ingest.asked_connections == [SELLER, SELLER]


async def test_no_seller_known_or_ingest_down_looks_nothing_up() -> None:
    ingest = _ingest(A2SELLER1EXAMPLE=[_connection("paused")])
    ask = TraceRequest("111-0000000-0000009", None, None, NOW)
    found = await trace(FakeUnitOfWork(Store()), ask, _ports(ingest))
    assert found["connection"] is None and ingest.asked_connections == []
    down = FakeIngest(Unreachable("down"))
    order_ask = TraceRequest("111-0000000-0000009", SELLER, US, NOW)
    with pytest.raises(NotThisSellersOrder) as raised:
        await trace(FakeUnitOfWork(Store()), order_ask, _ports(down))
    assert raised.value.connection == {"reachable": False, "error": "down"}


# --- the adapter: ingest's GET /v1/connections, page by page ---------------------------------


def _item(n: int, **over: Any) -> dict[str, Any]:
    item: dict[str, Any] = {
        "id": f"c-{n}",
        "seller_id": SELLER,
        "selling_partner_id": "A2PARTNER",
        "region": "NA",
        "marketplace_ids": [US],
        "status": "active",
        "health": "ok",
        "behind_seconds": 130,
        "last_sync_at": "2026-06-01T11:58:00Z",
        "last_error": None,
    }
    return item | over


async def test_the_ingest_client_reads_every_page_for_the_seller_only() -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        assert request.url.path == "/v1/connections"
        assert request.headers["x-seller-id"] == SELLER
        if request.url.params.get("cursor") == "next":
            return httpx.Response(200, json={"items": [_item(2, status="paused")]})
        return httpx.Response(200, json={"items": [_item(1)], "next_cursor": "next"})

    client = httpx.AsyncClient(transport=httpx.MockTransport(answer), base_url="http://i.test")
    found = await IngestClient(client, api_key="ops-one").connections(seller=SELLER)
    assert not isinstance(found, Unreachable)
    assert [(c.id, c.status) for c in found] == [("c-1", "active"), ("c-2", "paused")]
    assert found[0].last_sync_at == datetime(2026, 6, 1, 11, 58, tzinfo=UTC)
    assert found[0].marketplace_ids == (US,)


async def test_the_ingest_client_reports_a_refusal_or_ingest_down_as_unreachable() -> None:
    refusing = httpx.AsyncClient(
        transport=httpx.MockTransport(lambda r: httpx.Response(503)), base_url="http://i.test"
    )
    down = await IngestClient(refusing, api_key="k").connections(seller=SELLER)
    assert down == Unreachable("ingest answered 503")
    assert isinstance(await NoIngest().connections(seller=SELLER), Unreachable)
