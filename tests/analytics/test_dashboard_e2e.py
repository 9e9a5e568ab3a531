"""The dashboard in a real headless browser (a system Chromium through Playwright: ``$CHROMIUM``,
else ``chromium`` on the PATH or /usr/bin/chromium; skipped, saying so, where there is none).

Analytics runs in-process (consumer, relay) and its API is served over real HTTP by uvicorn on a
free port; the page loads Plotly from the service itself (no internet), draws every chart from
the API's data, shows the API's numbers, logs no console error, and leaves a screenshot.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from playwright.async_api import ConsoleMessage, Page, async_playwright

from orderflow_testkit.harness import RunningService, eventually
from shared import topics
from shared.events import ads, fulfillment, orders
from shared.events.ads import AdPerformance
from shared.events.performance import (
    AMAZON_ACCOUNT_HEALTH_REPORTED,
    AmazonAccountHealth,
    AmazonMetric,
    MarketplacePerformance,
)
from tests.analytics.conftest import OPS, SELLER, Publisher, wait_applied
from tests.analytics.factories import cancel, shipment, snapshot, usd

CHROMIUM = (
    os.environ.get("CHROMIUM")
    or shutil.which("chromium")
    or shutil.which("chromium-browser")
    or "/usr/bin/chromium"
)
pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(
        not os.access(CHROMIUM, os.X_OK),
        reason="no Chromium: `make browser` installs Debian's as root; as a normal user "
        "install chromium or set CHROMIUM=/path/to/chromium",
    ),
]
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SCREENSHOT = Path(__file__).resolve().parents[2] / "test-artifacts" / "dashboard.png"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.fixture
async def served(analytics: RunningService) -> AsyncIterator[str]:
    """The in-process analytics app over real HTTP (its lifespan already runs in the fixture)."""
    port = _free_port()
    config = uvicorn.Config(
        analytics.app, host="127.0.0.1", port=port, lifespan="off", log_level="warning"
    )
    server = uvicorn.Server(config)
    task = asyncio.ensure_future(server.serve())
    await eventually(lambda: server.started, timeout=10, interval=0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


_H = timedelta(hours=1)


async def _data(publisher: Publisher) -> None:
    now = datetime.now(UTC)
    placed = [
        snapshot(
            purchased=now - timedelta(days=d, hours=1),
            latest_ship=now - timedelta(hours=2),
            quantity=q,
            unit_price="12.50",
        )
        for d, q in ((0, 1), (1, 2), (2, 1), (3, 3), (5, 1))
    ]
    for order in placed:
        await publisher.publish(topics.ORDERS, orders.ORDER_CREATED, order, version=1)
    for order, on_time in zip(placed[:3], (True, False, True), strict=True):
        ship = shipment(
            order, shipped=now - timedelta(hours=3), on_time=on_time, first_scan=now - _H
        )
        await publisher.publish(topics.FULFILLMENT, fulfillment.SHIPMENT_CONFIRMED, ship, version=1)
    # Amazon's own figures: its cancel rate beside ours, its on-time delivery where we have none
    report = AmazonAccountHealth(
        seller_id=SELLER,
        report_id="50119018001",
        reported_at=now - _H,
        fetched_at=now,
        marketplaces=(
            MarketplacePerformance(
                marketplace_id="ATVPDKIKX0DER",
                metrics=(
                    AmazonMetric(
                        name="pre_fulfillment_cancel_rate",
                        scope="MFN",
                        report_field="preFulfillmentCancellationRate",
                        numerator=1,
                        denominator=4,
                        rate=Decimal("0.25"),
                    ),
                    AmazonMetric(
                        name="on_time_delivery_rate",
                        scope="MFN",
                        report_field="onTimeDeliveryRate",
                        numerator=19,
                        denominator=20,
                        rate=Decimal("0.95"),
                    ),
                ),
            ),
        ),
    )
    await publisher.publish(
        topics.ORDERS, AMAZON_ACCOUNT_HEALTH_REPORTED, report, version=1, subject=SELLER
    )
    await publisher.publish(
        topics.FULFILLMENT, fulfillment.ORDER_CANCELED, cancel(placed[4], at=now), version=1
    )
    row = AdPerformance(
        seller_id=SELLER,
        date=now.date(),
        campaign_id="C1",
        asin="B0MUG00001",
        clicks=12,
        spend=usd("9.00"),
        attributed_orders=3,
        attributed_sales=usd("45.00"),
    )
    await publisher.publish(
        topics.ADS,
        ads.AD_PERFORMANCE_REPORTED,
        row,
        version=1,
        subject=f"{SELLER}:{now.date()}:C1:B0MUG00001",
    )


async def _api_totals(svc: RunningService) -> dict[str, Any]:
    today = datetime.now(UTC).date()
    response = await svc.client.get(
        "/v1/sales",
        params={"from": str(today - timedelta(days=29)), "to": str(today)},
        headers=OPS,
    )
    [totals] = response.json()["totals"]
    assert isinstance(totals, dict)
    return totals


async def _charts_drawn(page: Page) -> None:
    await page.wait_for_selector("#sales-chart .main-svg .scatterlayer path.js-line")
    await page.wait_for_selector("#health-chart .indicatorlayer g.trace g.angular")
    await page.wait_for_selector("#ads-chart .main-svg .bars path")
    await page.wait_for_selector("#lag-chart .main-svg .bars path", state="attached")
    await page.wait_for_function("Number(document.body.dataset.refreshes || 0) >= 2")


async def test_dashboard_draws_live_data_in_a_browser(
    analytics: RunningService, publisher: Publisher, served: str
) -> None:
    await _data(publisher)
    await wait_applied(analytics, publisher.sent)
    totals = await _api_totals(analytics)
    assert (totals["orders"], totals["revenue"]) == (4, "87.50")

    problems: list[str] = []
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        try:
            page = await browser.new_page(viewport={"width": 1400, "height": 1000})

            def on_console(message: ConsoleMessage) -> None:
                if message.type == "error":
                    problems.append(message.text)

            page.on("console", on_console)
            page.on("pageerror", lambda exc: problems.append(str(exc)))
            await page.goto(f"{served}/dashboard?key=ops-key&seller={SELLER}&refresh=1000")
            await _charts_drawn(page)
            assert await page.text_content(".total-orders") == str(totals["orders"])
            assert await page.text_content(".total-revenue") == totals["revenue"]
            gauges = await page.locator("#health-chart .indicatorlayer g.trace").count()
            assert gauges == 5  # ODR (MFN), LSR 10d and 30d, cancel rate, valid tracking
            notes = await page.text_content("#health-notes") or ""
            assert "on_time_delivery_rate (MFN): insufficient_data; Amazon: 95.00%" in notes
            deltas = await page.locator("#health-chart .indicatorlayer text.delta").count()
            assert deltas == 1  # the cancel rate beside Amazon's
            titles = await page.text_content("#health-chart") or ""
            assert "pre fulfillment cancel rate (MFN) ≠ Amazon" in titles
            ads_bars = await page.locator("#ads-chart .bars path").count()
            assert ads_bars == 1
            ads_notes = await page.text_content("#ads-notes") or ""
            assert "USD: spend 9.00, ACoS 20.0%" in ads_notes  # 9.00 / 45.00, in one currency
            assert "refreshes" in (await page.evaluate("Object.keys(document.body.dataset)"))
            stored = await page.evaluate("localStorage.getItem('orderflow.analytics.key')")
            assert stored is None  # only the Show button stores a key
            SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
            await page.screenshot(path=str(SCREENSHOT), full_page=True)
        finally:
            await browser.close()
    assert problems == []
    assert SCREENSHOT.stat().st_size > 10_000


async def test_plotly_is_served_locally(analytics: RunningService) -> None:
    response = await analytics.client.get("/static/plotly.min.js")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/javascript")
    assert b"plotly" in response.content[:2000].lower() and len(response.content) > 1_000_000
    page = await analytics.client.get("/dashboard")
    assert page.status_code == 200 and "/static/plotly.min.js" in page.text
    assert "http" not in page.text.split("<body>")[1].split("</body>")[0]  # nothing remote
