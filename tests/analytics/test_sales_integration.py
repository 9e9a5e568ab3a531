"""GET /v1/sales over snapshots sent through orders.v1: each order once, canceled and
replacement orders excluded."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from orderflow_testkit.harness import RunningService
from shared import topics
from shared.events import fulfillment, orders
from tests.analytics.conftest import OTHER_SELLER, SELLER_KEY, Publisher, wait_applied
from tests.analytics.factories import cancel, snapshot

pytestmark = pytest.mark.integration


def _at(day: int) -> datetime:
    return datetime(2026, 6, day, 10, tzinfo=UTC)


async def _sales(svc: RunningService, **params: str) -> dict[str, Any]:
    query = {"from": "2026-06-01", "to": "2026-06-14"} | params
    response = await svc.client.get("/v1/sales", params=query, headers=SELLER_KEY)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def _rows(report: dict[str, Any]) -> list[tuple[Any, ...]]:
    return [
        (s["period"], s["group"], s["currency_code"], s["orders"], s["units"], s["revenue"])
        for s in report["series"]
    ]


async def test_sales_totals_and_series(analytics: RunningService, publisher: Publisher) -> None:
    o1 = snapshot(purchased=_at(1), quantity=2, unit_price="20.00")
    o2 = snapshot(purchased=_at(1), channel="AFN", unit_price="15.00", sku="TEA", asin="B0TEA00002")
    o3 = snapshot(purchased=_at(2), unit_price="20.00")
    o3_v2 = snapshot(
        purchased=_at(2), quantity=3, unit_price="20.00", oid=o3.amazon_order_id, version=2
    )
    o4 = snapshot(purchased=_at(2), status="Canceled", unit_price="50.00")
    o5 = snapshot(
        purchased=_at(9),
        unit_price="30.00",
        currency="EUR",
        sku="MUG-RED",
        marketplace="A1PA6795UKMFR9",
    )
    o6 = snapshot(purchased=_at(3), unit_price="70.00")
    foreign = snapshot(purchased=_at(1), seller=OTHER_SELLER, unit_price="99.00")
    outside = snapshot(purchased=datetime(2026, 5, 31, 23, 59, tzinfo=UTC))
    for order in (o1, o2, o3_v2, o3, o4, o5, o6, outside):  # o3's v1 arrives after its v2
        await publisher.publish(topics.ORDERS, orders.ORDER_CREATED, order, version=order.version)
    await publisher.publish(
        topics.ORDERS, orders.ORDER_CREATED, foreign, version=1, seller_id=OTHER_SELLER
    )
    await publisher.publish(
        topics.FULFILLMENT, fulfillment.ORDER_CANCELED, cancel(o6, at=_at(3)), version=1
    )
    await wait_applied(analytics, publisher.sent)

    daily = await _sales(analytics)
    assert daily["totals"] == [
        {"currency_code": "EUR", "orders": 1, "units": 1, "revenue": "30.00"},
        {"currency_code": "USD", "orders": 3, "units": 6, "revenue": "115.00"},
    ]
    assert daily["canceled_orders"] == 2
    assert _rows(daily) == [
        ("2026-06-01", None, "USD", 2, 3, "55.00"),
        ("2026-06-02", None, "USD", 1, 3, "60.00"),
        ("2026-06-09", None, "EUR", 1, 1, "30.00"),
    ]
    assert any("Canceled orders are excluded" in n for n in daily["notes"])

    channels = await _sales(analytics, granularity="week", group_by="fulfillment_channel")
    assert _rows(channels) == [
        ("2026-06-01", "FBA", "USD", 1, 1, "15.00"),
        ("2026-06-01", "FBM", "USD", 2, 5, "100.00"),
        ("2026-06-08", "FBM", "EUR", 1, 1, "30.00"),
    ]
    skus = await _sales(analytics, granularity="week", group_by="sku")
    assert _rows(skus) == [
        ("2026-06-01", "MUG-BLUE", "USD", 2, 5, "100.00"),
        ("2026-06-01", "TEA", "USD", 1, 1, "15.00"),
        ("2026-06-08", "MUG-RED", "EUR", 1, 1, "30.00"),
    ]
    assert skus["totals"] == daily["totals"]  # an order counts once, whatever its lines
    # The SKUs over the whole range, units sold descending, then orders, SKU and currency.
    assert [
        (i["sku"], i["currency_code"], i["orders"], i["units"], i["revenue"]) for i in skus["items"]
    ] == [
        ("MUG-BLUE", "USD", 2, 5, "100.00"),
        ("MUG-RED", "EUR", 1, 1, "30.00"),
        ("TEA", "USD", 1, 1, "15.00"),
    ]
    assert skus["next_cursor"] is None
    # A page at a time: each page's series holds its SKUs alone; totals are the whole range's.
    first = await _sales(analytics, granularity="week", group_by="sku", limit="2")
    assert [i["sku"] for i in first["items"]] == ["MUG-BLUE", "MUG-RED"]
    assert {s["group"] for s in first["series"]} == {"MUG-BLUE", "MUG-RED"}
    second = await _sales(
        analytics, granularity="week", group_by="sku", limit="2", cursor=first["next_cursor"]
    )
    assert [i["sku"] for i in second["items"]] == ["TEA"]
    assert _rows(second) == [("2026-06-01", "TEA", "USD", 1, 1, "15.00")]
    assert second["next_cursor"] is None
    assert first["totals"] == second["totals"] == daily["totals"]
    assert daily["items"] is None and daily["next_cursor"] is None
    markets = await _sales(analytics, granularity="week", group_by="marketplace")
    assert _rows(markets) == [
        ("2026-06-01", "ATVPDKIKX0DER", "USD", 3, 6, "115.00"),
        ("2026-06-08", "A1PA6795UKMFR9", "EUR", 1, 1, "30.00"),
    ]


async def test_a_replacement_order_is_not_a_sale(
    analytics: RunningService, publisher: Publisher
) -> None:
    sold = snapshot(purchased=_at(4), quantity=2, unit_price="20.00")
    replacement = snapshot(
        purchased=_at(5), quantity=2, unit_price="20.00", replaces=sold.amazon_order_id
    )
    for order in (sold, replacement):
        await publisher.publish(topics.ORDERS, orders.ORDER_CREATED, order, version=1)
    await wait_applied(analytics, publisher.sent)

    for group_by in ("none", "sku"):
        report = await _sales(analytics, group_by=group_by)
        assert report["totals"] == [
            {"currency_code": "USD", "orders": 1, "units": 2, "revenue": "40.00"}
        ]
        assert report["replacement_orders"] == 1
        assert [s["period"] for s in report["series"]] == ["2026-06-04"]
    response = await analytics.client.get(
        "/v1/ads/summary",
        params={"from": "2026-06-01", "to": "2026-06-14", "group_by": "asin"},
        headers=SELLER_KEY,
    )
    assert response.status_code == 200, response.text
    [item] = response.json()["items"]
    assert (item["total_orders"], item["total_sales"]) == (1, "40.00")


async def test_bad_sales_queries_name_the_field(analytics: RunningService) -> None:
    backwards = await analytics.client.get(
        "/v1/sales", params={"from": "2026-06-10", "to": "2026-06-01"}, headers=SELLER_KEY
    )
    assert backwards.status_code == 422
    assert backwards.json()["errors"][0]["field"] == "query.to"
    monthly = await analytics.client.get(
        "/v1/sales",
        params={"from": "2026-06-01", "to": "2026-06-02", "granularity": "month"},
        headers=SELLER_KEY,
    )
    assert monthly.status_code == 422
    assert monthly.json()["errors"][0]["field"] == "query.granularity"
    for cursor in ("bm90LWEtY3Vyc29y", "eyJ1IjotMX0", "!!"):
        bad = await analytics.client.get(
            "/v1/sales",
            params={"from": "2026-06-01", "to": "2026-06-02", "group_by": "sku", "cursor": cursor},
            headers=SELLER_KEY,
        )
        assert bad.status_code in (400, 422), bad.text
        assert bad.json()["errors"][0]["field"] == "query.cursor"
    anonymous = await analytics.client.get(
        "/v1/sales", params={"from": "2026-06-01", "to": "2026-06-02"}
    )
    assert anonymous.status_code == 401
