"""A seller selling and advertising in USD (amazon.com) and EUR (amazon.de): every money figure
and ratio is computed within one currency, equal to the values worked out by hand below."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from orderflow_testkit.harness import RunningService
from shared import topics
from shared.events import ads, orders
from shared.events.ads import AdPerformance
from shared.events.common import Money
from tests.analytics.conftest import SELLER, SELLER_KEY, Publisher, wait_applied
from tests.analytics.factories import snapshot

pytestmark = pytest.mark.integration

US, DE = "ATVPDKIKX0DER", "A1PA6795UKMFR9"
MUG, TEA = "B0MUG00001", "B0TEA00002"
DAY = datetime(2026, 6, 2, 10, tzinfo=UTC)
PERIOD = {"from": "2026-06-01", "to": "2026-06-07"}


def _ad(day: date, currency: str, spend: str, orders: int, sales: str) -> AdPerformance:
    return AdPerformance(
        seller_id=SELLER,
        date=day,
        marketplace_id=US if currency == "USD" else DE,
        campaign_id=f"C-{currency}",
        asin=MUG,
        clicks=10,
        spend=Money(amount=Decimal(spend), currency_code=currency),
        attributed_orders=orders,
        attributed_sales=Money(amount=Decimal(sales), currency_code=currency),
    )


async def _publish(publisher: Publisher) -> None:
    placed = [
        *(snapshot(purchased=DAY + timedelta(hours=i), unit_price="25.00") for i in range(4)),
        snapshot(purchased=DAY, unit_price="50.00", asin=TEA, sku="TEA"),
        *(
            snapshot(purchased=DAY, unit_price="30.00", marketplace=DE, currency="EUR")
            for _ in range(2)
        ),
        snapshot(purchased=DAY, status="Pending", marketplace=DE, currency="EUR"),
    ]
    for order in placed:
        await publisher.publish(topics.ORDERS, orders.ORDER_CREATED, order, version=1)
    rows = [
        _ad(DAY.date(), "USD", "12.00", 2, "50.00"),
        _ad(DAY.date(), "EUR", "9.00", 1, "30.00"),
        _ad(DAY.date() + timedelta(days=1), "EUR", "6.00", 1, "10.00"),
    ]
    for row in rows:
        subject = f"{SELLER}:{row.date}:{row.campaign_id}:{MUG}"
        await publisher.publish(
            topics.ADS, ads.AD_PERFORMANCE_REPORTED, row, version=1, subject=subject
        )


async def _get(svc: RunningService, path: str, **params: str) -> dict[str, Any]:
    response = await svc.client.get(path, params=PERIOD | params, headers=SELLER_KEY)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def _ratios(entry: dict[str, Any]) -> tuple[Any, ...]:
    return (
        entry["currency_code"],
        entry["spend"],
        entry["attributed_sales"],
        entry["total_sales"],
        entry["total_orders"],
        entry["ad_order_ratio"],
        entry["acos"],
        entry["tacos"],
    )


async def test_acos_tacos_and_sales_per_currency(
    analytics: RunningService, publisher: Publisher
) -> None:
    await _publish(publisher)
    await wait_applied(analytics, publisher.sent)

    summary = await _get(analytics, "/v1/ads/summary")
    assert summary["currency_codes"] == ["EUR", "USD"]
    # EUR: spend 9 + 6 = 15 on sales7d 30 + 10 = 40 -> ACoS 0.375; total sales 2 x 30 = 60 ->
    # TACoS 0.25; 2 attributed of 3 orders (the pending one counts, priced in EUR on amazon.de).
    # USD: spend 12 on sales7d 50 -> ACoS 0.24; the mug sold 4 x 25 = 100 -> TACoS 0.12, and
    # with the tea (50) the seller sold 150 -> TACoS 0.08.
    assert [_ratios(c) for c in summary["by_currency"]] == [
        ("EUR", "15.00", "40.00", "60.00", 3, "0.6667", "0.3750", "0.2500"),
        ("USD", "12.00", "50.00", "150.00", 5, "0.4000", "0.2400", "0.0800"),
    ]
    assert [(i["asin"], *_ratios(i)) for i in summary["items"]] == [
        (MUG, "EUR", "15.00", "40.00", "60.00", 3, "0.6667", "0.3750", "0.2500"),
        (MUG, "USD", "12.00", "50.00", "100.00", 4, "0.5000", "0.2400", "0.1200"),
        (TEA, "USD", "0.00", "0.00", "50.00", 1, "0.0000", None, "0.0000"),
    ]
    overall = (await _get(analytics, "/v1/ads/summary", group_by="none"))["items"]
    assert [(i["asin"], *_ratios(i)) for i in overall] == [
        (None, *_ratios(c)) for c in summary["by_currency"]
    ]

    sales = await _get(analytics, "/v1/sales")
    assert sales["totals"] == [
        {"currency_code": "EUR", "orders": 3, "units": 3, "revenue": "60.00"},
        {"currency_code": "USD", "orders": 5, "units": 5, "revenue": "150.00"},
    ]
