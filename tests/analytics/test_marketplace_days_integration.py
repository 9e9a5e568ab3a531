"""Sales days are the marketplace's calendar days: an evening order in Seattle and a morning
order in Tokyo fall on the days their sellers and buyers see, not on UTC's."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from orderflow_testkit.harness import RunningService
from shared import topics
from shared.events import orders
from tests.analytics.conftest import SELLER_KEY, Publisher, wait_applied
from tests.analytics.factories import snapshot

pytestmark = pytest.mark.integration

US, JP = "ATVPDKIKX0DER", "A1VC38T7YXB528"


async def _sales(svc: RunningService, start: str, end: str) -> dict[str, Any]:
    response = await svc.client.get(
        "/v1/sales", params={"from": start, "to": end}, headers=SELLER_KEY
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_daily_buckets_and_range_follow_each_marketplace_s_time_zone(
    analytics: RunningService, publisher: Publisher
) -> None:
    seattle_evening = snapshot(  # 20:00 PDT on June 1
        purchased=datetime(2026, 6, 2, 3, tzinfo=UTC), unit_price="20.00", marketplace=US
    )
    tokyo_morning = snapshot(  # 08:00 JST on June 2
        purchased=datetime(2026, 6, 1, 23, tzinfo=UTC),
        unit_price="3000",
        marketplace=JP,
        currency="JPY",
    )
    for order in (seattle_evening, tokyo_morning):
        await publisher.publish(topics.ORDERS, orders.ORDER_CREATED, order, version=1)
    await wait_applied(analytics, publisher.sent)

    both = await _sales(analytics, "2026-06-01", "2026-06-02")
    assert [(s["period"], s["currency_code"], s["revenue"]) for s in both["series"]] == [
        ("2026-06-01", "USD", "20.00"),
        ("2026-06-02", "JPY", "3000.00"),
    ]
    june_1 = await _sales(analytics, "2026-06-01", "2026-06-01")
    assert [(t["currency_code"], t["orders"]) for t in june_1["totals"]] == [("USD", 1)]
    june_2 = await _sales(analytics, "2026-06-02", "2026-06-02")
    assert [(t["currency_code"], t["orders"]) for t in june_2["totals"]] == [("JPY", 1)]
    assert any("marketplace" in n and "time zone" in n for n in both["notes"])
