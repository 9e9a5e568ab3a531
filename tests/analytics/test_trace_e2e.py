"""GET /v1/orders/{id}/trace explains each "why is my order not showing?" cause.

Ingest runs in-process and analytics calls its real REST API (through an httpx client bound to
it); the consumer lag is faked only where a test needs lag that a healthy run never has.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from analytics.adapters.ingest_client import IngestClient
from analytics.adapters.peers import Peers
from analytics.domain.amazon_connection import AmazonConnection
from analytics.service_layer.ports import IngestView, PartitionLag, Unreachable
from orderflow_testkit.harness import RunningService, eventually
from orderflow_testkit.samples import amazon_order, order_id
from shared import topics
from shared.messaging.envelope import CloudEvent, schema_uri
from tests.analytics.conftest import OPS, SELLER, SELLER_KEY, Publisher
from tests.analytics.factories import shipment, snapshot

pytestmark = pytest.mark.e2e

OTHER_KEY = {"Authorization": "Bearer other-key"}
OPS_ALL = {"Authorization": "Bearer ops-key"}  # no X-Seller-Id: every seller's trace


@pytest.fixture
def wired(ingest: RunningService, analytics: RunningService) -> RunningService:
    analytics.resources.deps.ingest = IngestClient(ingest.client, api_key="ops-key")
    return analytics


async def _trace(
    svc: RunningService, oid: str, headers: dict[str, str] = SELLER_KEY, **params: str
) -> dict[str, Any]:
    response = await svc.client.get(f"/v1/orders/{oid}/trace", params=params, headers=headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def _codes(trace: dict[str, Any]) -> list[str]:
    return [f["code"] for f in trace["diagnosis"]]


async def _post(ingest: RunningService, order: dict[str, Any]) -> None:
    response = await ingest.client.post("/v1/orders", json=order, headers=SELLER_KEY)
    assert response.status_code in (200, 201, 422), response.text


async def _seen(svc: RunningService, oid: str) -> dict[str, Any]:
    async def check() -> dict[str, Any] | None:
        trace = await _trace(svc, oid, OPS_ALL)
        return trace if trace["events"] else None

    found: dict[str, Any] = await eventually(check, timeout=30)
    return found


def _fulfillment_peer(request: httpx.Request) -> httpx.Response:
    assert request.headers["authorization"] == "Bearer ops-key"
    if request.url.path == "/v1/dead-letters":
        return httpx.Response(200, json={"items": [{"id": 1, "subject": "other"}]})
    oid = request.url.path.rsplit("/", 1)[1]
    return httpx.Response(200, json={"amazon_order_id": oid, "status": "Shipped", "version": 3})


async def test_a_received_order_shows_its_whole_timeline(
    ingest: RunningService, wired: RunningService, publisher: Publisher
) -> None:
    wired.resources.deps.peers = Peers(
        {"fulfillment": "http://fulfillment.test"},
        api_key="ops-key",
        timeout=1.0,
        transport=httpx.MockTransport(_fulfillment_peer),
    )
    order = amazon_order()
    oid = order["AmazonOrderId"]
    await _post(ingest, order)
    await _seen(wired, oid)
    shipped = shipment(snapshot(purchased=datetime.now(UTC), oid=oid), shipped=datetime.now(UTC))
    await publisher.publish(topics.FULFILLMENT, "shipment.confirmed", shipped, version=2)

    async def both() -> dict[str, Any] | None:
        trace = await _trace(wired, oid)
        return trace if len(trace["events"]) == 2 else None

    trace = await eventually(both, timeout=30)
    assert trace["ingest"]["reachable"] and trace["ingest"]["received"]
    assert trace["ingest"]["version"] == 1
    event, fulfilled = trace["events"]
    assert (fulfilled["type"], fulfilled["source"], fulfilled["version"]) == (
        "shipment.confirmed",
        "fulfillment",
        2,
    )
    assert trace["services"]["seen_on_topics"]["fulfillment"] == {
        "last_version_seen": 2,
        "events": 1,
    }
    assert trace["services"]["fulfillment"] == {
        "reachable": True,
        "found": True,
        "version": 3,
        "status": "Shipped",
        "marketplace_id": None,
    }
    assert trace["read_model"]["shipments"] == 1
    assert trace["dead_letters_elsewhere"] == {"fulfillment": []}
    assert event["topic"] == wired.resources.settings.topic(topics.ORDERS)
    assert (event["type"], event["version"], event["source"]) == ("order.created", 1, "ingest")
    assert event["applied"] is True
    assert event["partition"] == trace["ingest"]["published"][0]["partition"]
    assert event["offset"] == trace["ingest"]["published"][0]["offset"]
    assert trace["services"]["analytics"]["order_version_applied"] == 1
    assert trace["services"]["ingest"]["published_version"] == 1
    assert trace["dead_letters"] == []
    assert trace["diagnosis"] == []


async def _not_visible(svc: RunningService, oid: str, headers: dict[str, str]) -> dict[str, Any]:
    response = await svc.client.get(f"/v1/orders/{oid}/trace", headers=headers)
    assert response.status_code == 404, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    return body


async def test_never_received_and_rejected_as_bad_input(
    ingest: RunningService, wired: RunningService
) -> None:
    unknown = order_id()
    body = await _not_visible(wired, unknown, SELLER_KEY)
    assert _codes(body) == ["never_received", "amazon_not_connected"]  # the seller has none
    assert unknown in body["detail"] and body["connection"]["connections"] == []
    assert _codes(await _trace(wired, unknown, headers=OPS_ALL)) == ["never_received"]
    # An ops or system key naming a seller sees what that seller sees: the same 404.
    for narrowed in (OPS, {"Authorization": "Bearer sys-key", "X-Seller-Id": SELLER}):
        assert await _not_visible(wired, unknown, narrowed) == body

    bad = amazon_order()
    del bad["PurchaseDate"]
    await _post(ingest, bad)
    trace = await _trace(wired, bad["AmazonOrderId"])
    assert _codes(trace) == ["rejected_as_bad_input"]
    assert "PurchaseDate" in trace["diagnosis"][0]["message"]
    assert trace["ingest"]["quarantined"][0]["reasons"][0]["field"] == "PurchaseDate"


async def test_pending_old_and_other_marketplace(
    ingest: RunningService, wired: RunningService
) -> None:
    pending = amazon_order(status="Pending")
    old = amazon_order(purchased=datetime.now(UTC) - timedelta(days=10))
    for order in (pending, old):
        await _post(ingest, order)
        await _seen(wired, order["AmazonOrderId"])
    assert _codes(await _trace(wired, pending["AmazonOrderId"])) == ["pending_hidden"]
    assert _codes(await _trace(wired, old["AmazonOrderId"])) == ["older_than_default_view"]
    elsewhere = await _trace(wired, pending["AmazonOrderId"], marketplace_id="A1F83G8C2ARO7P")
    assert _codes(elsewhere) == ["other_seller_or_marketplace", "pending_hidden"]
    assert "ATVPDKIKX0DER" in elsewhere["diagnosis"][0]["message"]


async def test_another_sellers_order_is_only_not_under_this_seller(
    ingest: RunningService, wired: RunningService
) -> None:
    order = amazon_order(status="Pending")
    await _post(ingest, order)
    await _seen(wired, order["AmazonOrderId"])
    oid = order["AmazonOrderId"]
    theirs = await _not_visible(wired, oid, OTHER_KEY)
    nobody = await _not_visible(wired, "999-9999999-9999999", OTHER_KEY)
    assert set(theirs) == {
        "type",
        "title",
        "status",
        "detail",
        "instance",
        "diagnosis",
        "connection",
    }
    same = {k: str(v).replace(oid, "999-9999999-9999999") for k, v in theirs.items()}
    assert same == {k: str(v) for k, v in nobody.items()}  # no hint that the id exists
    assert SELLER not in str(theirs) and "Pending" not in str(theirs)


async def test_events_of_another_sellers_order_are_not_shown(
    wired: RunningService, publisher: Publisher
) -> None:
    oid = order_id()  # fulfillment's event arrived; ingest's order.created has not
    shipped = shipment(snapshot(purchased=datetime.now(UTC), oid=oid), shipped=datetime.now(UTC))
    await publisher.publish(topics.FULFILLMENT, "shipment.confirmed", shipped, version=1)
    await _seen(wired, oid)
    body = await _not_visible(wired, oid, OTHER_KEY)
    assert _codes(body) == ["never_received", "amazon_not_connected"]
    assert "shipment" not in str(body)
    own = await _trace(wired, oid)
    assert len(own["events"]) == 1 and "never_received" not in _codes(own)


async def test_stuck_in_dead_letter_queue(
    wired: RunningService, publisher: Publisher, analytics_settings: Any
) -> None:
    oid = order_id()
    poison = CloudEvent(
        source="ingest",
        type="order.created",
        subject=oid,
        dataschema=schema_uri(topics.ORDERS, "order.created", 1),
        sellerid=SELLER,
        aggregateversion=1,
        data={"amazon_order_id": oid},  # not an OrderSnapshot: dead-lettered at once
    )
    await publisher._producer.send_and_wait(
        analytics_settings.topic(topics.ORDERS), poison.to_bytes(), key=oid.encode()
    )

    async def stuck() -> dict[str, Any] | None:
        trace = await _trace(wired, oid, OPS_ALL)
        return trace if trace["dead_letters"] else None

    await eventually(stuck, timeout=30)
    trace = await _trace(wired, oid)  # the dead letter names the seller: the seller sees it
    assert "stuck_in_dead_letter_queue" in _codes(trace)
    theirs = await _not_visible(wired, oid, OTHER_KEY)  # and no other seller does
    assert "dead" not in str(theirs) and SELLER not in str(theirs)
    assert trace["diagnosis"][-1]["details"] == {"dead_letters": 1}
    assert trace["dead_letters"][0]["error"].startswith("PoisonMessage")


class _LaggingKafka:
    def __init__(self, group: str, topic: str) -> None:
        self.group, self.topic = group, topic

    async def lag(self, groups: list[str]) -> dict[str, list[PartitionLag]]:
        return {self.group: [PartitionLag(self.group, self.topic, 3, committed=10, end=900)]}


class _FakeIngest:
    def __init__(self, topic: str) -> None:
        self.topic = topic

    async def view(
        self, amazon_order_id: str, *, seller: str | None = None
    ) -> IngestView | Unreachable:
        order = {
            "seller_id": SELLER,
            "order_status": "Unshipped",
            "version": 1,
            "order": {"purchase_date": datetime.now(UTC).isoformat()},
            "events": [{"topic": self.topic, "partition": 3, "offset": 42}],
        }
        return IngestView(order=order, quarantine=[])

    async def connections(self, *, seller: str) -> list[AmazonConnection] | Unreachable:
        return []


async def test_consumer_lagging_when_the_order_event_is_not_consumed_yet(
    wired: RunningService,
) -> None:
    settings = wired.resources.settings
    group = f"{settings.kafka_topic_prefix}orderflow-analytics"
    orders_topic = settings.topic(topics.ORDERS)
    wired.resources.deps.lag = _LaggingKafka(group, orders_topic)
    wired.resources.deps.ingest = _FakeIngest(orders_topic)
    trace = await _trace(wired, order_id())
    assert _codes(trace) == ["consumer_lagging"]
    assert trace["diagnosis"][0]["details"] == {"total_lag": 890, "unconsumed_events": 1}
    assert trace["consumer_lag"]["total"] == 890


async def test_ingest_down_is_reported_not_raised(analytics: RunningService) -> None:
    down = httpx.AsyncClient(base_url="http://127.0.0.1:9", timeout=1.0)
    analytics.resources.deps.ingest = IngestClient(down, api_key="ops-key")
    oid = order_id()
    try:
        trace = await _trace(analytics, oid, OPS_ALL)
        seller = await analytics.client.get(f"/v1/orders/{oid}/trace", headers=SELLER_KEY)
    finally:
        await down.aclose()
    assert trace["ingest"]["reachable"] is False
    assert trace["diagnosis"] == []  # cannot say "never received" while ingest is down
    assert seller.status_code == 404  # a seller key learns nothing beyond "not visible here"
