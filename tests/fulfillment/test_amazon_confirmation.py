"""Amazon's answer to a pushed shipment (ingest's shipment.amazon_* on orders.v1) shows on the
shipment, without changing the order's version or publishing anything."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from orderflow_testkit.harness import RunningService
from shared import topics
from shared.events.orders import (
    SHIPMENT_AMAZON_CONFIRMATION_FAILED,
    SHIPMENT_AMAZON_CONFIRMED,
    AmazonConfirmation,
)
from shared.events.registry import build_event
from shared.messaging.envelope import CloudEvent
from tests.fulfillment.conftest import AS_OTHER, AS_SELLER, SELLER, apply, outbox_events, snapshot

pytestmark = pytest.mark.integration


def answer(
    oid: str, shipment_id: str, *, status: str, version: int, at: datetime, error: str | None
) -> CloudEvent:
    payload = AmazonConfirmation(
        amazon_order_id=oid,
        seller_id=SELLER,
        shipment_id=shipment_id,
        fulfillment_version=version,
        status=status,  # type: ignore[arg-type]
        error=error,
        at=at,
    )
    return build_event(
        topic=topics.ORDERS,
        event_type=SHIPMENT_AMAZON_CONFIRMED
        if status == "sent"
        else SHIPMENT_AMAZON_CONFIRMATION_FAILED,
        payload=payload,
        source="ingest",
        subject=oid,
        seller_id=SELLER,
        version=version,
    )


async def test_amazon_answer_is_recorded_on_the_shipment(fulfillment: RunningService) -> None:
    snap = snapshot()
    oid = snap.amazon_order_id
    await apply(fulfillment, snap)
    shipped = await fulfillment.client.post(
        f"/v1/orders/{oid}/shipments",
        json={
            "carrier_code": "UPS",
            "tracking_number": "1Z999AA10123456784",
            "ship_date": datetime.now(UTC).isoformat(),
        },
        headers=AS_SELLER,
    )
    assert shipped.status_code == 201, shipped.text
    assert shipped.json()["amazon_confirmation"] is None
    shipment_id = shipped.json()["shipment_id"]
    before = (await fulfillment.client.get(f"/v1/orders/{oid}", headers=AS_SELLER)).json()
    queued = len(await outbox_events(fulfillment, oid))
    now = datetime.now(UTC)
    refused = "HTTP 400: InvalidInput: Value XYZ for carrierCode is not valid"

    failed = answer(oid, shipment_id, status="failed", version=2, at=now, error=refused)
    assert await apply(fulfillment, failed)
    assert not await apply(fulfillment, failed)  # inbox: once
    order = (await fulfillment.client.get(f"/v1/orders/{oid}", headers=AS_SELLER)).json()
    assert order["shipments"][0]["amazon_confirmation"] == {
        "status": "failed",
        "error": refused,
        "at": now.isoformat().replace("+00:00", "Z"),
        "fulfillment_version": 2,
    }
    assert order["version"] == before["version"]  # not an order change

    later = now + timedelta(seconds=5)
    sent = answer(oid, shipment_id, status="sent", version=2, at=later, error=None)
    assert await apply(fulfillment, sent)
    # a stale answer arriving late (older) does not overwrite the newer one
    assert await apply(
        fulfillment, answer(oid, shipment_id, status="failed", version=1, at=later, error="old")
    )
    # an unknown shipment or order is ignored, not an error
    assert await apply(
        fulfillment, answer(oid, "nope", status="sent", version=2, at=later, error=None)
    )
    order = (await fulfillment.client.get(f"/v1/orders/{oid}", headers=AS_SELLER)).json()
    confirmation = order["shipments"][0]["amazon_confirmation"]
    assert confirmation["status"] == "sent" and confirmation["error"] is None
    assert order["version"] == before["version"]
    assert len(await outbox_events(fulfillment, oid)) == queued  # nothing published
    foreign = await fulfillment.client.get(f"/v1/orders/{oid}", headers=AS_OTHER)
    assert foreign.status_code == 404
