"""End to end: ingest and defects in-process on one Kafka (same topic prefix), each with its own
database. An order posted to ingest and a shipment published on fulfillment.v1 show up in a
claim's evidence packet; the claim moves through its lifecycle and its events reach defects.v1."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer

from ingest.bootstrap import SPEC as INGEST
from ingest.settings import IngestSettings
from orderflow_testkit.harness import RunningService, eventually, running_service
from orderflow_testkit.samples import amazon_order

from .conftest import (
    AS_SELLER,
    KEYS,
    claim_body,
    defects_events,
    publish_fulfillment,
    shipment,
)

pytestmark = pytest.mark.e2e

PII_KEY = "n_BqP4SNyVeTHYn4Gjx04lJgXmwo1DbEEpWiUaOM2Qs="


@pytest.fixture
async def ingest(
    make_database: Callable[[str], str], kafka_bootstrap: str, topic_prefix: str
) -> AsyncIterator[RunningService]:
    settings = IngestSettings(
        DATABASE_URL=make_database("ingest"),
        KAFKA_BOOTSTRAP_SERVERS=kafka_bootstrap,
        KAFKA_TOPIC_PREFIX=topic_prefix,
        ORDERFLOW_API_KEYS=KEYS,
        ORDERFLOW_PII_KEY=PII_KEY,
    )
    async with running_service(INGEST, settings, roles=("relay",)) as svc:
        yield svc


async def test_order_through_ingest_and_shipment_reach_the_claims_evidence_and_events(
    ingest: RunningService, defects: RunningService, producer: AIOKafkaProducer
) -> None:
    order = amazon_order(status="Shipped", channel="MFN")
    oid = order["AmazonOrderId"]
    posted = await ingest.client.post("/v1/orders", json=order, headers=AS_SELLER)
    assert posted.status_code == 201, posted.text
    await publish_fulfillment(
        producer, defects, "shipment.confirmed", shipment(oid, carrier_code="USPS"), version=1
    )

    filed = await defects.client.post("/v1/claims", json=claim_body(oid), headers=AS_SELLER)
    assert filed.status_code == 201, filed.text
    url = f"/v1/claims/{filed.json()['id']}"

    async def with_facts() -> dict[str, Any] | None:
        body = (await defects.client.get(url, headers=AS_SELLER)).json()
        known = body["order"]["known"] and body["evidence_packet"]["shipments"]
        return body if known else None

    body = await eventually(with_facts, timeout=30)
    assert body["order"]["fulfillment_channel"] == "MFN"
    assert body["order"]["purchase_date"] is not None
    [shipped] = body["evidence_packet"]["shipments"]
    assert shipped["carrier_code"] == "USPS"
    assert shipped["tracking_number"] == "1Z999AA10123456784"
    assert shipped["on_time"] is True
    assert body["evidence_packet"]["order"]["order_total"] == {
        "amount": "39.98",
        "currency_code": "USD",
    }

    for step, payload in [
        ("responses", {"text": "Shipped on time with USPS tracking."}),
        ("review", {}),
        ("decision", {"decision": "granted_seller_funded"}),
        ("appeal", {"text": "Carrier confirms delivery."}),
        ("appeal-decision", {"outcome": "upheld"}),
    ]:
        moved = await defects.client.post(f"{url}/{step}", json=payload, headers=AS_SELLER)
        assert moved.status_code == 200, (step, moved.text)
    assert moved.json()["status"] == "appeal_decided"
    assert moved.json()["odr_rule"] == "a_to_z.appeal_lost"

    events = await defects_events(defects, oid, 5, timeout=30)
    assert [e.type for e in events] == [
        "claim.filed",
        "claim.responded",
        "claim.decided",
        "claim.appealed",
        "claim.appeal_decided",
    ]
    last = events[-1]
    assert last.data["counts_toward_odr"] is True
    assert last.data["odr_rule"] == "a_to_z.appeal_lost"
    assert last.data["fulfillment_channel"] == "MFN"
    assert last.data["order_purchase_date"] is not None
