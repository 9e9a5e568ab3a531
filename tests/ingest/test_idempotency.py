"""Ingest's intake under an ``Idempotency-Key``: a retried order answers the first response
and publishes one event; a retried multipart upload (a new boundary each send) answers the
first response; a system key acting for another seller never gets the first seller's answer."""

from __future__ import annotations

import uuid

import pytest

from orderflow_testkit.harness import RunningService, read_topic
from orderflow_testkit.samples import amazon_order
from shared import topics

from .conftest import OTHER_SELLER

pytestmark = pytest.mark.integration

SELLER_KEY = {"Authorization": "Bearer seller-key"}
REPORT = (
    b"amazon-order-id\tpurchase-date\tlast-updated-date\torder-status\tfulfillment-channel\t"
    b"sku\tasin\tquantity\tcurrency\titem-price\n"
    b"903-1111111-0000001\t2026-11-20T10:00:00+00:00\t2026-11-20T11:00:00+00:00\tShipped\t"
    b"Merchant\tSKU-1\tB000000001\t1\tUSD\t10.00\n"
)


async def test_a_retried_order_answers_the_first_response_and_publishes_once(
    ingest: RunningService,
) -> None:
    order = amazon_order()
    key = {**SELLER_KEY, "Idempotency-Key": str(uuid.uuid4())}
    first = await ingest.client.post("/v1/orders", json=order, headers=key)
    again = await ingest.client.post("/v1/orders", json=order, headers=key)
    assert first.status_code == again.status_code == 201, first.text
    assert again.content == first.content and again.headers["idempotent-replayed"] == "true"
    unkeyed = await ingest.client.post("/v1/orders", json=order, headers=SELLER_KEY)
    assert unkeyed.status_code == 200  # the natural key: AmazonOrderId, unchanged

    oid = order["AmazonOrderId"].encode()
    records = await read_topic(
        ingest.resources.settings.kafka_bootstrap_servers,
        ingest.resources.settings.topic(topics.ORDERS),
        until=lambda rs: any(r.key == oid for r in rs),
    )
    assert sum(r.key == oid for r in records) == 1


async def test_a_retried_upload_answers_the_first_response(ingest: RunningService) -> None:
    key = {**SELLER_KEY, "Idempotency-Key": str(uuid.uuid4())}
    files = {"file": ("orders.txt", REPORT, "text/tab-separated-values")}
    first = await ingest.client.post("/v1/uploads", files=files, headers=key)
    again = await ingest.client.post("/v1/uploads", files=files, headers=key)
    assert first.request.headers["content-type"] != again.request.headers["content-type"]
    assert first.status_code == again.status_code == 202, first.text
    assert again.content == first.content and again.headers["idempotent-replayed"] == "true"
    assert again.headers["location"] == first.headers["location"]


async def test_a_system_key_acting_for_another_seller_gets_no_replay(
    ingest: RunningService,
) -> None:
    key = str(uuid.uuid4())
    mine = amazon_order()
    first = await ingest.client.post(
        "/v1/orders", json=mine, headers={**SELLER_KEY, "Idempotency-Key": key}
    )
    assert first.status_code == 201
    theirs = amazon_order()
    other = await ingest.client.post(
        "/v1/orders",
        json=theirs,
        headers={**ingest.as_("sys-key", OTHER_SELLER), "Idempotency-Key": key},
    )
    assert other.status_code == 201, other.text
    assert other.json()["amazon_order_id"] == theirs["AmazonOrderId"]
    assert "idempotent-replayed" not in other.headers
