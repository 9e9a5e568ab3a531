"""``POST /v1/tracking-events``: a carrier scan finds the seller's shipment by carrier and
tracking number, is kept once, and is announced as ``shipment.scanned``; bad scans are clear
4xx problems that change nothing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from orderflow_testkit.harness import RunningService
from shared.events import fulfillment as contract
from tests.fulfillment.conftest import AS_OTHER, AS_SELLER, apply, outbox_events, snapshot

pytestmark = pytest.mark.integration

UPS = "1Z999AA10123456784"
OTHER_UPS = "1Z999AA10123456799"


async def _shipped(svc: RunningService, tracking: str = UPS) -> str:
    snap = snapshot(purchased=datetime.now(UTC) - timedelta(days=2))
    await apply(svc, snap)
    oid = snap.amazon_order_id
    response = await svc.client.post(
        f"/v1/orders/{oid}/shipments",
        json={
            "carrier_code": "UPS",
            "tracking_number": tracking,
            "ship_date": datetime.now(UTC).isoformat(),
        },
        headers=AS_SELLER,
    )
    assert response.status_code == 201, response.text
    return oid


def _scan(status: str = "in_transit", at: datetime | None = None, **over: Any) -> dict[str, Any]:
    moment = at or datetime.now(UTC) - timedelta(hours=1)
    return {
        "carrier_code": "UPS",
        "tracking_number": UPS,
        "status": status,
        "occurred_at": moment.isoformat(),
    } | over


async def _post(svc: RunningService, body: dict[str, Any], headers: Any = AS_SELLER) -> Any:
    return await svc.client.post("/v1/tracking-events", json=body, headers=headers)


async def _scanned(svc: RunningService, oid: str) -> list[dict[str, Any]]:
    events = await outbox_events(svc, oid)
    return [e.data for e in events if e.type == contract.SHIPMENT_SCANNED]


async def test_a_scan_is_kept_once_and_announced(fulfillment: RunningService) -> None:
    oid = await _shipped(fulfillment, tracking="1z 999aa1 0123456784")  # normalised on confirm
    delivered_at = datetime.now(UTC) - timedelta(minutes=30)
    first = await _post(fulfillment, _scan("delivered", delivered_at, carrier_code="ups"))
    assert first.status_code == 201, first.text
    body = first.json()
    assert (body["recorded"], body["carrier_code"], body["tracking_number"]) == (
        True,
        "UPS",
        UPS,
    )
    [shipment] = body["shipments"]
    assert shipment["amazon_order_id"] == oid and shipment["scans"] == 1
    assert shipment["delivered_at"] == shipment["first_scan_at"]

    repeat = await _post(fulfillment, _scan("delivered", delivered_at))
    assert repeat.status_code == 200 and repeat.json()["recorded"] is False
    [announced] = await _scanned(fulfillment, oid)
    assert announced["scan"]["status"] == "delivered"
    assert announced["delivered_at"] is not None and announced["tracking_given_at"] is not None

    # an earlier physical scan moves first_scan_at back; a label alone (pre_transit) does not
    earlier = datetime.now(UTC) - timedelta(days=1)
    label = await _post(fulfillment, _scan("pre_transit", earlier - timedelta(hours=2)))
    moved = await _post(fulfillment, _scan("in_transit", earlier))
    assert label.status_code == moved.status_code == 201
    assert moved.json()["shipments"][0]["first_scan_at"] == earlier.isoformat().replace(
        "+00:00", "Z"
    )
    assert len(await _scanned(fulfillment, oid)) == 3


async def test_a_new_tracking_number_starts_without_scans(fulfillment: RunningService) -> None:
    oid = await _shipped(fulfillment)
    assert (await _post(fulfillment, _scan())).status_code == 201
    detail = (await fulfillment.client.get(f"/v1/orders/{oid}", headers=AS_SELLER)).json()
    shipment_id = detail["shipments"][0]["shipment_id"]
    edited = await fulfillment.client.patch(
        f"/v1/orders/{oid}/shipments/{shipment_id}",
        json={"tracking_number": OTHER_UPS},
        headers=AS_SELLER,
    )
    assert edited.status_code == 200, edited.text
    [updated] = [
        e.data for e in await outbox_events(fulfillment, oid) if e.type == "shipment.updated"
    ]
    assert updated["first_scan_at"] is None and updated["delivered_at"] is None
    old = await _post(fulfillment, _scan())
    assert old.status_code == 404  # the old number is no longer this shipment's
    new = await _post(fulfillment, _scan(tracking_number=OTHER_UPS))
    assert new.status_code == 201 and new.json()["shipments"][0]["scans"] == 1


async def test_an_unknown_or_foreign_parcel_is_not_found(fulfillment: RunningService) -> None:
    await _shipped(fulfillment)
    unknown = await _post(fulfillment, _scan(tracking_number="1Z999AA10000000000"))
    assert unknown.status_code == 404
    assert unknown.headers["content-type"].startswith("application/problem+json")
    assert "1Z999AA10000000000" in unknown.json()["detail"]
    wrong_carrier = await _post(fulfillment, _scan(carrier_code="FedEx"))
    assert wrong_carrier.status_code == 404
    foreign = await _post(fulfillment, _scan(tracking_number="1Z999AA10000000000"), AS_OTHER)
    theirs = await _post(fulfillment, _scan(), AS_OTHER)  # another seller's parcel
    assert foreign.status_code == theirs.status_code == 404
    assert theirs.json()["detail"] == foreign.json()["detail"].replace("1Z999AA10000000000", UPS)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"status": "lost_in_space"}, "body.status"),
        ({"occurred_at": "2026-06-01T10:00:00"}, "body.occurred_at"),  # no time zone
        ({"tracking_number": ""}, "body.tracking_number"),
        ({"carrier_code": None}, "body.carrier_code"),
        ({"scanned_by": "robot"}, "body.scanned_by"),
    ],
)
async def test_a_malformed_scan_is_refused_by_field(
    fulfillment: RunningService, change: dict[str, Any], field: str
) -> None:
    response = await _post(fulfillment, _scan() | change)
    assert response.status_code == 422, response.text
    assert field in [e["field"] for e in response.json()["errors"]]


async def test_a_scan_in_the_future_or_before_the_purchase_changes_nothing(
    fulfillment: RunningService,
) -> None:
    oid = await _shipped(fulfillment)
    future = await _post(fulfillment, _scan(at=datetime.now(UTC) + timedelta(hours=2)))
    before = await _post(fulfillment, _scan(at=datetime.now(UTC) - timedelta(days=30)))
    assert future.status_code == before.status_code == 422
    assert future.json()["errors"][0]["field"] == "body.occurred_at"
    assert "purchase date" in before.json()["errors"][0]["message"]
    assert await _scanned(fulfillment, oid) == []
