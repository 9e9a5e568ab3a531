"""End to end through real Kafka and PostgreSQL: an order posted to ingest appears in
fulfillment's search; confirming its shipment publishes shipment.confirmed on fulfillment.v1."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

import pytest

from orderflow_testkit.harness import RunningService, eventually, read_topic
from orderflow_testkit.samples import amazon_order, iso
from shared import topics
from shared.messaging.envelope import CloudEvent
from tests.fulfillment.conftest import AS_SELLER

pytestmark = pytest.mark.e2e

TRACKING = "1Z999AA10123456784"


async def _found(svc: RunningService, **params: Any) -> list[dict[str, Any]]:
    response = await svc.client.get("/v1/orders", params=params, headers=AS_SELLER)
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


async def test_order_from_ingest_is_shipped_through_fulfillment(
    ingest_and_fulfillment: tuple[RunningService, RunningService],
) -> None:
    ingest, fulfillment = ingest_and_fulfillment
    order = amazon_order()
    oid = order["AmazonOrderId"]
    started = time.monotonic()
    posted = await ingest.client.post("/v1/orders", json=order, headers=AS_SELLER)
    assert posted.status_code == 201, posted.text

    [found] = await eventually(lambda: _found(fulfillment, amazon_order_id=oid), timeout=15)
    assert time.monotonic() - started < 10  # cold start: topics created, consumer group joined
    assert found["status"] == "Unshipped"
    warm = amazon_order()
    started = time.monotonic()
    assert (await ingest.client.post("/v1/orders", json=warm, headers=AS_SELLER)).is_success
    await eventually(lambda: _found(fulfillment, amazon_order_id=warm["AmazonOrderId"]), timeout=15)
    assert time.monotonic() - started < 2  # warm: "within a second or two"
    email = order["BuyerInfo"]["BuyerEmail"].upper()
    assert [o["amazon_order_id"] for o in await _found(fulfillment, buyer_email=email)] == [oid]

    shipped = await fulfillment.client.post(
        f"/v1/orders/{oid}/shipments",
        json={
            "carrier_code": "UPS",
            "tracking_number": TRACKING,
            "ship_date": iso(datetime.now(UTC)),
        },
        headers=AS_SELLER,
    )
    assert shipped.status_code == 201, shipped.text
    detail = await fulfillment.client.get(f"/v1/orders/{oid}", headers=AS_SELLER)
    assert detail.json()["status"] == "Shipped"

    topic = fulfillment.resources.settings.topic(topics.FULFILLMENT)
    records = await read_topic(
        fulfillment.resources.settings.kafka_bootstrap_servers,
        topic,
        until=lambda rs: any(r.key == oid.encode() for r in rs),
        timeout=20,
    )
    [event] = [CloudEvent.from_bytes(r.value) for r in records if r.key == oid.encode()]
    assert event.type == "shipment.confirmed"
    assert event.source == "fulfillment"
    assert event.data["tracking_number"] == TRACKING
    assert event.data["order_status"] == "Shipped"
    assert event.aggregateversion == 2

    # Amazon's next update still says Unshipped: the seller's shipment stands.
    newer = dict(order, LastUpdateDate=iso(datetime.now(UTC)))
    assert (await ingest.client.post("/v1/orders", json=newer, headers=AS_SELLER)).json()[
        "version"
    ] == 2

    async def applied() -> bool:
        response = await fulfillment.client.get(f"/v1/orders/{oid}", headers=AS_SELLER)
        return bool(response.json()["version"] == 3)

    await eventually(applied, timeout=15)
    after = (await fulfillment.client.get(f"/v1/orders/{oid}", headers=AS_SELLER)).json()
    assert (after["status"], after["amazon_status"]) == ("Shipped", "Unshipped")


async def test_amazon_cancel_via_ingest_publishes_order_canceled(
    ingest_and_fulfillment: tuple[RunningService, RunningService],
) -> None:
    ingest, fulfillment = ingest_and_fulfillment
    order = amazon_order()
    oid = order["AmazonOrderId"]
    await ingest.client.post("/v1/orders", json=order, headers=AS_SELLER)
    await eventually(lambda: _found(fulfillment, amazon_order_id=oid), timeout=15)
    canceled = dict(order, OrderStatus="Canceled", LastUpdateDate=iso(datetime.now(UTC)))
    assert (await ingest.client.post("/v1/orders", json=canceled, headers=AS_SELLER)).is_success

    records = await read_topic(
        fulfillment.resources.settings.kafka_bootstrap_servers,
        fulfillment.resources.settings.topic(topics.FULFILLMENT),
        until=lambda rs: any(r.key == oid.encode() for r in rs),
        timeout=20,
    )
    [event] = [CloudEvent.from_bytes(r.value) for r in records if r.key == oid.encode()]
    assert (event.type, event.data["canceled_by"]) == ("order.canceled", "amazon")
