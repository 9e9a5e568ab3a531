"""Ad rows posted to ingest flow through ads.v1 into analytics' ads summary, with advice."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from orderflow_testkit.harness import RunningService, read_topic
from orderflow_testkit.samples import amazon_order
from shared import topics
from shared.messaging.envelope import CloudEvent
from tests.analytics.conftest import SELLER, SELLER_KEY, applied_count, wait_applied

pytestmark = pytest.mark.e2e

DAY1 = datetime(2026, 6, 1, 15, tzinfo=UTC)
MUG, TEA = "B0MUG00001", "B0TEA00002"


def _row(**kw: Any) -> dict[str, Any]:
    base = {
        "date": "2026-06-01",
        "marketplace_id": "ATVPDKIKX0DER",
        "campaign_id": "C1",
        "campaign_name": "Mugs exact",
        "asin": MUG,
        "impressions": 1000,
        "clicks": 40,
        "spend": "12.50",
        "attributed_orders": 4,
        "attributed_units": 4,
        "attributed_sales": "80.00",
        "currency_code": "USD",
    }
    return base | kw


async def _post_orders(ingest: RunningService) -> None:
    mugs = [
        amazon_order(
            purchased=DAY1 + timedelta(hours=i),
            asin=MUG,
            sku="MUG-BLUE",
            quantity=1,
            unit_price="20.00",
        )
        for i in range(10)
    ]
    teas = [
        amazon_order(
            purchased=DAY1 + timedelta(days=1, hours=i),
            asin=TEA,
            sku="TEA-GREEN",
            quantity=1,
            unit_price="10.00",
        )
        for i in range(5)
    ]
    response = await ingest.client.post(
        "/v1/orders/batch", json={"orders": mugs + teas}, headers=SELLER_KEY
    )
    assert response.status_code == 200 and response.json()["accepted"] == 15, response.text


async def _summary(analytics: RunningService, group_by: str = "asin") -> dict[str, Any]:
    response = await analytics.client.get(
        "/v1/ads/summary",
        params={"from": "2026-06-01", "to": "2026-06-07", "group_by": group_by},
        headers=SELLER_KEY,
    )
    assert response.status_code == 200, response.text
    return response.json()


async def test_ad_rows_become_ratios_acos_tacos_and_advice(
    ingest: RunningService, analytics: RunningService
) -> None:
    await _post_orders(ingest)
    rows = [
        _row(),
        _row(date="2026-06-02", spend="17.50", attributed_orders=3, attributed_sales="40.00"),
        _row(
            campaign_id="C2",
            asin=None,
            seller_sku="TEA-GREEN",
            spend="5.00",
            attributed_orders=1,
            attributed_sales="10.00",
        ),
    ]
    posted = await ingest.client.post(
        "/v1/ads/performance", json={"rows": rows}, headers=SELLER_KEY
    )
    assert posted.status_code == 200, posted.text
    body = posted.json()
    assert [r["result"] for r in body["results"]] == ["created"] * 3
    assert body["results"][0]["subject"] == f"{SELLER}:2026-06-01:C1:{MUG}"
    assert body["results"][2]["subject"] == f"{SELLER}:2026-06-01:C2:TEA-GREEN"
    await wait_applied(analytics, 18)

    summary = await _summary(analytics)
    by_asin = {i["asin"]: i for i in summary["items"]}
    mug = by_asin[MUG]
    assert (mug["attributed_orders"], mug["total_orders"], mug["organic_orders"]) == (7, 10, 3)
    assert (mug["spend"], mug["attributed_sales"], mug["total_sales"]) == (
        "30.00",
        "120.00",
        "200.00",
    )
    assert (mug["ad_order_ratio"], mug["acos"], mug["tacos"]) == ("0.7000", "0.2500", "0.1500")
    assert mug["too_dependent_on_ads"] is True
    codes = [r["code"] for r in mug["recommendations"]]
    assert codes == ["shift_ad_spend", "drive_non_ad_traffic", "improve_listing_keywords"]
    assert mug["recommendations"][0]["evidence"]["ad_order_ratio"] == "0.7000"
    tea = by_asin[TEA]  # its ad row named only the SKU: mapped to the ASIN through the orders
    assert (tea["ad_order_ratio"], tea["acos"], tea["tacos"]) == ("0.2000", "0.5000", "0.1000")
    assert tea["recommendations"] == []
    [overall] = (await _summary(analytics, "none"))["items"]
    assert (overall["attributed_orders"], overall["total_orders"]) == (8, 15)

    # a restated row is published with the next version; an unchanged repeat publishes nothing
    before = await applied_count(analytics)
    restated = await ingest.client.post(
        "/v1/ads/performance",
        json={"rows": [_row(attributed_orders=5, attributed_sales="100.00"), rows[1]]},
        headers=SELLER_KEY,
    )
    results = restated.json()["results"]
    assert [(r["result"], r["version"]) for r in results] == [("restated", 2), ("unchanged", 1)]
    await wait_applied(analytics, before + 1)
    mug = {i["asin"]: i for i in (await _summary(analytics))["items"]}[MUG]
    assert (mug["attributed_orders"], mug["ad_order_ratio"], mug["acos"]) == (8, "0.8000", "0.2143")
    records = await read_topic(
        ingest.resources.settings.kafka_bootstrap_servers,
        ingest.resources.settings.topic(topics.ADS),
        until=lambda rs: sum(r.key == f"{SELLER}:2026-06-01:C1:{MUG}".encode() for r in rs) >= 2,
        timeout=10,
    )
    versions = [
        CloudEvent.from_bytes(r.value).aggregateversion
        for r in records
        if r.key == f"{SELLER}:2026-06-01:C1:{MUG}".encode()
    ]
    assert versions[-2:] == [1, 2]


async def test_bad_ad_rows_are_refused_naming_the_field_and_row(ingest: RunningService) -> None:
    rows = [_row(), _row(spend="twelve"), _row(asin=None), _row(currency_code="usd")]
    response = await ingest.client.post(
        "/v1/ads/performance", json={"rows": rows}, headers=SELLER_KEY
    )
    assert response.status_code == 422
    fields = {e["field"] for e in response.json()["errors"]}
    assert fields == {"body.rows.1.spend", "body.rows.2", "body.rows.3.currency_code"}
    empty = await ingest.client.post("/v1/ads/performance", json={"rows": []}, headers=SELLER_KEY)
    assert empty.status_code == 422
    ops = await ingest.client.post(
        "/v1/ads/performance", json={"rows": [_row()]}, headers={"Authorization": "Bearer ops-key"}
    )
    assert ops.status_code == 403
