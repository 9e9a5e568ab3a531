"""Shipment-confirmation flat files: a job with progress and per-row results; the same file
is the same job, and a shipment already confirmed is never confirmed twice."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from orderflow_testkit.harness import RunningService, eventually
from tests.fulfillment.conftest import AS_OTHER, AS_SELLER, apply, outbox_events, snapshot

pytestmark = pytest.mark.integration

COLUMNS = "order-id order-item-id quantity ship-date carrier-code carrier-name tracking-number"
HEADER = "\t".join([*COLUMNS.split(), "ship-method"])


def _row(*cells: str) -> str:
    return "\t".join(cells)


async def _upload(svc: RunningService, content: str) -> Any:
    return await svc.client.post(
        "/v1/shipments/uploads",
        files={"file": ("confirm.txt", content.encode(), "text/plain")},
        headers=AS_SELLER,
    )


async def _done(svc: RunningService, upload_id: str) -> dict[str, Any]:
    async def finished() -> dict[str, Any] | None:
        response = await svc.client.get(f"/v1/shipments/uploads/{upload_id}", headers=AS_SELLER)
        body: dict[str, Any] = response.json()
        return body if body["status"] == "done" else None

    result: dict[str, Any] = await eventually(finished, timeout=15)
    return result


async def test_flat_file_confirms_shipments_once(fulfillment: RunningService) -> None:
    two = snapshot(quantities=(1, 2))
    whole = snapshot()
    bad = snapshot()
    for s in (two, whole, bad):
        await apply(fulfillment, s)
    today = datetime.now(UTC).date().isoformat()
    a1, a2 = (i.order_item_id for i in two.items)
    content = "\n".join(
        [
            HEADER,
            _row(two.amazon_order_id, a1, "1", today, "UPS", "", "1Z999AA10123456784", "Ground"),
            _row(two.amazon_order_id, a2, "2", today, "UPS", "", "1Z999AA10123456784", "Ground"),
            _row(whole.amazon_order_id, "", "", today, "USPS", "", "EA123456785US", ""),
            _row(bad.amazon_order_id, "", "", today, "FedEx", "", "123", ""),
            _row("999-0000000-0000000", "", "", today, "DHL", "", "1234567890", ""),
        ]
    )
    first = await _upload(fulfillment, content)
    assert first.status_code == 202, first.text
    job = await _done(fulfillment, first.json()["upload_id"])
    assert (job["rows_total"], job["rows_processed"]) == (5, 5)
    assert (job["rows_accepted"], job["rows_rejected"]) == (3, 2), job["results"]
    by_order = {r["order_id"]: r for r in job["results"]}
    assert by_order[two.amazon_order_id]["rows"] == [2, 3]
    assert by_order[bad.amazon_order_id]["errors"][0]["field"] == "tracking_number"
    assert by_order["999-0000000-0000000"]["result"] == "rejected"
    for oid in (two.amazon_order_id, whole.amazon_order_id):
        detail = await fulfillment.client.get(f"/v1/orders/{oid}", headers=AS_SELLER)
        assert detail.json()["status"] == "Shipped"

    again = await _upload(fulfillment, content)
    assert again.status_code == 200
    assert again.json()["upload_id"] == first.json()["upload_id"]
    assert again.json()["duplicate"] is True

    edited = await _upload(fulfillment, content + "\n")  # another file, same shipments
    assert edited.status_code == 202
    second = await _done(fulfillment, edited.json()["upload_id"])
    results = {r["order_id"]: r["result"] for r in second["results"]}
    assert results[two.amazon_order_id] == results[whole.amazon_order_id] == "duplicate"
    assert len(await outbox_events(fulfillment, two.amazon_order_id)) == 1
    assert len(await outbox_events(fulfillment, whole.amazon_order_id)) == 1

    foreign = await fulfillment.client.get(
        f"/v1/shipments/uploads/{first.json()['upload_id']}", headers=AS_OTHER
    )
    assert foreign.status_code == 404


async def test_unreadable_file_is_422(fulfillment: RunningService) -> None:
    response = await _upload(fulfillment, "just,some,columns\n1,2,3\n")
    assert response.status_code == 422
    assert "missing columns" in response.json()["detail"]
