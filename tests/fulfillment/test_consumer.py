"""The orders.v1 consumer on real Kafka: repeats and out-of-order arrival change nothing,
and a poison message is dead-lettered without holding up the others."""

from __future__ import annotations

from typing import Any

import pytest

from orderflow_testkit.harness import RunningService, eventually
from shared import topics
from shared.kafka.client import ensure_topics, make_producer
from tests.fulfillment.conftest import AS_OPS, AS_SELLER, event_of, snapshot

pytestmark = pytest.mark.integration


async def _publish(svc: RunningService, messages: list[tuple[str, bytes]]) -> None:
    settings = svc.resources.settings
    topic = settings.topic(topics.ORDERS)
    await ensure_topics(settings.kafka_bootstrap_servers, [topic], partitions=3)
    producer = make_producer(settings.kafka_bootstrap_servers, client_id="test-orders")
    await producer.start()
    try:
        for key, value in messages:
            await producer.send_and_wait(topic, value, key=key.encode())
    finally:
        await producer.stop()


async def test_out_of_order_and_repeated_snapshots_through_kafka(
    fulfillment_consuming: RunningService,
) -> None:
    svc = fulfillment_consuming
    v1 = snapshot(status="Pending", version=1)
    oid = v1.amazon_order_id
    v2 = snapshot(amazon_order_id=oid, status="Unshipped", version=2)
    v3 = snapshot(amazon_order_id=oid, status="Canceled", version=3, buyer_cancel=True)
    e1, e2, e3 = event_of(v1), event_of(v2), event_of(v3)
    after = snapshot(sales_channel="Amazon.de")
    await _publish(
        svc,
        [
            (oid, e3.to_bytes()),
            (oid, b"{not a cloudevent"),
            (oid, e1.to_bytes()),
            (oid, e3.to_bytes()),
            (oid, e2.to_bytes()),
            # Keyed like the others so it lands behind them on their partition: once it is
            # visible they have all been applied (another partition's record can be applied
            # first, e.g. when the poison sends the fetch one by one).
            (oid, event_of(after).to_bytes()),
        ],
    )

    async def seen(order_id: str) -> dict[str, Any] | None:
        response = await svc.client.get(f"/v1/orders/{order_id}", headers=AS_SELLER)
        body: dict[str, Any] | None = response.json() if response.status_code == 200 else None
        return body

    await eventually(lambda: seen(after.amazon_order_id), timeout=20)
    order = await seen(oid)
    assert order is not None
    assert (order["status"], order["version"]) == ("Canceled", 1)
    assert order["cancellation"]["canceled_by"] == "buyer"

    async def dead_letters() -> list[dict[str, Any]]:
        # Other tests of the session share the topic: look only at this order's letters.
        response = await svc.client.get("/v1/dead-letters", headers=AS_OPS)
        items: list[dict[str, Any]] = response.json()["items"]
        return [item for item in items if item["key"] == oid]

    [dead] = await eventually(dead_letters, timeout=10)
    assert dead["error_type"] == "PoisonMessage"


async def test_prime_business_and_replacement_orders_through_kafka(
    fulfillment_consuming: RunningService,
) -> None:
    svc = fulfillment_consuming
    prime, business = snapshot(is_prime=True), snapshot(is_business_order=True)
    original = snapshot()
    replacement = snapshot(is_replacement_order=True, replaced_order_id=original.amazon_order_id)
    made = (prime, business, original, replacement)
    await _publish(svc, [(s.amazon_order_id, event_of(s).to_bytes()) for s in made])

    async def search(**flags: bool) -> set[str]:
        params = {name: str(value).lower() for name, value in flags.items()}
        response = await svc.client.get("/v1/orders", params=params, headers=AS_SELLER)
        assert response.status_code == 200, response.text
        return {o["amazon_order_id"] for o in response.json()["items"]}

    async def all_applied() -> bool:
        return {s.amazon_order_id for s in made} <= await search()

    await eventually(all_applied, timeout=20)
    # Other tests of the session share the seller: look only at this test's orders.
    mine = {s.amazon_order_id for s in made}
    assert await search(is_prime=True) & mine == {prime.amazon_order_id}
    assert await search(is_business_order=True) & mine == {business.amazon_order_id}
    assert await search(is_replacement_order=True) & mine == {replacement.amazon_order_id}
    assert await search(is_prime=False) & mine == mine - {prime.amazon_order_id}
    response = await svc.client.get(f"/v1/orders/{replacement.amazon_order_id}", headers=AS_SELLER)
    order = response.json()
    assert order["is_replacement_order"] is True
    assert order["replaced_order_id"] == original.amazon_order_id
