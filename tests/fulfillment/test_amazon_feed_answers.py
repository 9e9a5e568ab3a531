"""Amazon's answers to a cancellation and a refund (ingest's cancellation.amazon_* and
refund.amazon_* on orders.v1, published on real Kafka) show on the order's cancellation and on
the refund, without changing the order's version or publishing anything; an older answer
arriving late never replaces a newer one, and an answer for an unknown refund is ignored."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from orderflow_testkit.harness import RunningService, eventually
from shared import topics
from shared.events.orders import (
    CANCELLATION_AMAZON_ACCEPTED,
    CANCELLATION_AMAZON_FAILED,
    REFUND_AMAZON_ACCEPTED,
    REFUND_AMAZON_FAILED,
    AmazonFeedResult,
)
from shared.events.registry import build_event
from shared.kafka.client import ensure_topics, make_producer
from shared.messaging.envelope import CloudEvent
from tests.fulfillment.conftest import (
    AS_OTHER,
    AS_SELLER,
    SELLER,
    apply,
    event_of,
    outbox_events,
    snapshot,
)

pytestmark = pytest.mark.integration

REFUSED = "The data you submitted is incomplete or invalid."


def result(oid: str, *, refund_id: str | None = None, **fields: Any) -> CloudEvent:
    """Amazon's answer as ingest announces it: to the order's cancellation, or to a refund."""
    values: dict[str, Any] = {
        "amazon_order_id": oid,
        "seller_id": SELLER,
        "submission_id": "7",
        "kind": "cancellation" if refund_id is None else "adjustment",
        "refund_id": refund_id,
        "status": "accepted",
        "feed_id": "50001019999",
    }
    payload = AmazonFeedResult(**values | fields)
    accepted = payload.status == "accepted"
    if refund_id is None:
        event_type = CANCELLATION_AMAZON_ACCEPTED if accepted else CANCELLATION_AMAZON_FAILED
    else:
        event_type = REFUND_AMAZON_ACCEPTED if accepted else REFUND_AMAZON_FAILED
    return build_event(
        topic=topics.ORDERS,
        event_type=event_type,
        payload=payload,
        source="ingest",
        subject=oid,
        seller_id=SELLER,
        version=payload.fulfillment_version,
    )


async def _publish(svc: RunningService, events: list[CloudEvent]) -> None:
    settings = svc.resources.settings
    topic = settings.topic(topics.ORDERS)
    await ensure_topics(settings.kafka_bootstrap_servers, [topic], partitions=3)
    producer = make_producer(settings.kafka_bootstrap_servers, client_id="test-feed-answers")
    await producer.start()
    try:
        for event in events:
            await producer.send_and_wait(topic, event.to_bytes(), key=event.subject.encode())
    finally:
        await producer.stop()


async def _order(svc: RunningService, oid: str) -> dict[str, Any]:
    response = await svc.client.get(f"/v1/orders/{oid}", headers=AS_SELLER)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def _canceled_and_refunded(svc: RunningService) -> tuple[str, str, str]:
    """A canceled order, and a shipped order with one refund (its id)."""
    canceled, refunded = snapshot(), snapshot()
    for snap in (canceled, refunded):
        assert await apply(svc, snap)
    a, b = canceled.amazon_order_id, refunded.amazon_order_id
    cancel = await svc.client.post(
        f"/v1/orders/{a}/cancellation", json={"reason": "NoInventory"}, headers=AS_SELLER
    )
    assert cancel.status_code == 200, cancel.text
    assert cancel.json()["cancellation"]["amazon"] is None
    shipped = await svc.client.post(
        f"/v1/orders/{b}/shipments",
        json={
            "carrier_code": "UPS",
            "tracking_number": "1Z999AA10123456784",
            "ship_date": datetime.now(UTC).isoformat(),
        },
        headers=AS_SELLER,
    )
    assert shipped.status_code == 201, shipped.text
    refund = await svc.client.post(
        f"/v1/orders/{b}/refunds", json={"reason": "CustomerReturn"}, headers=AS_SELLER
    )
    assert refund.status_code == 201, refund.text
    assert refund.json()["amazon"] is None
    return a, b, refund.json()["refund_id"]


def _z(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


async def test_amazons_answers_show_on_the_cancellation_and_the_refund(
    fulfillment_consuming: RunningService,
) -> None:
    svc = fulfillment_consuming
    a, b, refund_id = await _canceled_and_refunded(svc)
    before = {oid: await _order(svc, oid) for oid in (a, b)}
    va, vb = before[a]["version"], before[b]["version"]
    queued = {oid: len(await outbox_events(svc, oid)) for oid in (a, b)}
    now = datetime.now(UTC)

    await _publish(
        svc,
        [
            result(
                a,
                fulfillment_version=va,
                status="failed",
                result_code="18028",
                error=REFUSED,
                at=now,
            ),
            result(b, refund_id="no-such-refund", fulfillment_version=vb, at=now),
            result(b, refund_id=refund_id, fulfillment_version=vb, status="failed", at=now),
        ],
    )

    async def answered() -> bool:
        orders = [await _order(svc, oid) for oid in (a, b)]
        return bool(orders[0]["cancellation"]["amazon"] and orders[1]["refunds"][0]["amazon"])

    await eventually(answered, timeout=20)
    order_a, order_b = await _order(svc, a), await _order(svc, b)
    assert order_a["cancellation"]["amazon"] == {
        "status": "failed",
        "result_code": "18028",
        "error": REFUSED,
        "at": _z(now),
        "fulfillment_version": va,
        "feed_id": "50001019999",
    }
    assert order_b["refunds"][0]["refund_id"] == refund_id
    assert order_b["refunds"][0]["amazon"]["status"] == "failed"
    assert (order_a["version"], order_b["version"]) == (va, vb)  # not an order change
    for oid in (a, b):  # nothing published
        assert len(await outbox_events(svc, oid)) == queued[oid]

    later = now + timedelta(seconds=5)
    # Behind each order's answers, a snapshot with a new ship service level: once it shows,
    # the answers before it on the partition have been applied.
    await _publish(
        svc,
        [
            result(a, fulfillment_version=va, at=later),
            result(a, fulfillment_version=va, status="failed", error="old", at=now),
            event_of(snapshot(amazon_order_id=a, version=2, ship_service_level="Expedited")),
            result(b, refund_id=refund_id, fulfillment_version=vb, at=later),
            result(b, refund_id=refund_id, fulfillment_version=vb - 1, status="failed", at=later),
            event_of(
                snapshot(
                    amazon_order_id=b, version=2, status="Shipped", ship_service_level="Expedited"
                )
            ),
        ],
    )

    async def merged() -> bool:
        orders = [await _order(svc, oid) for oid in (a, b)]
        return all(o["ship_service_level"] == "Expedited" for o in orders)

    await eventually(merged, timeout=20)
    order_a, order_b = await _order(svc, a), await _order(svc, b)
    cancellation, refund = order_a["cancellation"]["amazon"], order_b["refunds"][0]["amazon"]
    assert (cancellation["status"], cancellation["error"], cancellation["at"]) == (
        "accepted",
        None,
        _z(later),
    )
    assert (refund["status"], refund["fulfillment_version"]) == ("accepted", vb)
    assert order_a["status"] == "Canceled"
    foreign = await svc.client.get(f"/v1/orders/{a}", headers=AS_OTHER)
    assert foreign.status_code == 404
