"""orders.v1 and fulfillment.v1 applied idempotently: newest version wins, whatever the order of
arrival; repeats change nothing. Plus the service's OpenAPI document."""

from __future__ import annotations

from typing import Any

import pytest
from aiokafka import AIOKafkaProducer

from orderflow_testkit.harness import RunningService, eventually
from shared.events.orders import FulfillmentChannel

from .conftest import (
    AS_SELLER,
    claim_body,
    new_order_id,
    publish_fulfillment,
    publish_order,
    shipment,
    snapshot,
)

pytestmark = pytest.mark.integration


async def test_newest_snapshot_and_fact_win_over_late_older_ones(
    defects: RunningService, producer: AIOKafkaProducer
) -> None:
    oid = new_order_id()
    claim = await defects.client.post("/v1/claims", json=claim_body(oid), headers=AS_SELLER)
    url = f"/v1/claims/{claim.json()['id']}"
    afn = {"fulfillment_channel": FulfillmentChannel.AFN}
    newer = snapshot(oid, version=2).model_copy(update=afn)
    await publish_order(producer, defects, newer)
    await publish_order(producer, defects, snapshot(oid, version=1))  # late and older
    await publish_order(producer, defects, newer)  # a repeat
    updated = shipment(oid, tracking_number="9400111899223197428490", carrier_code="USPS")
    await publish_fulfillment(producer, defects, "shipment.updated", updated, version=4)
    await publish_fulfillment(producer, defects, "shipment.confirmed", shipment(oid), version=2)
    marker = shipment(oid).model_copy(update={"shipment_id": "marker"})
    await publish_fulfillment(producer, defects, "shipment.confirmed", marker, version=5)

    async def settled() -> dict[str, Any] | None:
        body = (await defects.client.get(url, headers=AS_SELLER)).json()
        ids = {s["shipment_id"] for s in body["evidence_packet"]["shipments"]}
        return body if "marker" in ids and body["order"]["known"] else None

    body = await eventually(settled, timeout=20)
    assert body["order"]["fulfillment_channel"] == "AFN"
    [kept] = [s for s in body["evidence_packet"]["shipments"] if s["shipment_id"] != "marker"]
    assert (kept["carrier_code"], kept["tracking_number"]) == ("USPS", "9400111899223197428490")


async def test_openapi_documents_every_endpoint(defects: RunningService) -> None:
    document = (await defects.client.get("/openapi.json")).json()
    paths = document["paths"]
    for path in (
        "/v1/claims",
        "/v1/claims/{claim_id}",
        "/v1/claims/{claim_id}/information-requests",
        "/v1/claims/{claim_id}/responses",
        "/v1/claims/{claim_id}/review",
        "/v1/claims/{claim_id}/decision",
        "/v1/claims/{claim_id}/appeal",
        "/v1/claims/{claim_id}/appeal-decision",
        "/v1/claims/{claim_id}/evidence/{file_id}",
        "/v1/feedback",
        "/v1/feedback/{feedback_id}/removal-request",
        "/v1/feedback/{feedback_id}/removal",
        "/v1/problem-orders",
        "/v1/dead-letters",
    ):
        assert path in paths, path
    content = paths["/v1/claims/{claim_id}/responses"]["post"]["requestBody"]["content"]
    assert {"multipart/form-data", "application/json"} <= set(content)
    assert "409" in paths["/v1/claims/{claim_id}/appeal"]["post"]["responses"]
    assert (await defects.client.get("/readyz")).status_code == 200
