"""Amazon's seller performance report, fetched by ingest's scheduled job from the SP-API
stand-in (Reports API), reaches analytics over orders.v1: each metric of
``GET /v1/account-health`` shows Amazon's figure beside Orderflow's, flagged where they
disagree by more than the rounding.

Ingest (relay and background jobs, the report job enabled) and analytics (consumer) run
in-process on the real Kafka and PostgreSQL; Orderflow's own figures come from contract events
published as the other services would.
"""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from analytics.settings import AnalyticsSettings
from ingest.adapters import orm as ingest_orm
from ingest.bootstrap import SPEC as INGEST
from ingest.settings import IngestSettings
from orderflow_testkit.harness import RunningService, eventually, running_service
from orderflow_testkit.samples import iso
from shared import topics
from shared.events import orders
from tests.analytics.conftest import KEYS, PII_KEY, Publisher, wait_applied
from tests.analytics.factories import claim, snapshot

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from spapi_standin import StandIn, running_standin
from spapi_standin.reports import PERFORMANCE, performance_document

pytestmark = pytest.mark.e2e

SELLER = "A9AMAZONFIGURES1"  # this test's own: the session's topics carry other tests' sellers
SYSTEM = {"Authorization": "Bearer sys-key", "X-Seller-Id": SELLER}
OPS = {"Authorization": "Bearer ops-key", "X-Seller-Id": SELLER}
US = "ATVPDKIKX0DER"
AS_OF = datetime(2026, 6, 30, 12, 0, tzinfo=UTC)


@pytest.fixture
def standin() -> Iterator[StandIn]:
    with running_standin(StandIn(seller_id="A2AMAZONPARTNER", scale=1000)) as running:
        yield running


@pytest.fixture
async def reporting_ingest(
    make_database: Callable[[str], str], kafka_bootstrap: str, topic_prefix: str
) -> AsyncIterator[RunningService]:
    settings = IngestSettings(
        DATABASE_URL=make_database("ingest"),
        KAFKA_BOOTSTRAP_SERVERS=kafka_bootstrap,
        KAFKA_TOPIC_PREFIX=topic_prefix,
        ORDERFLOW_API_KEYS=KEYS,
        ORDERFLOW_PII_KEY=PII_KEY,
        PERFORMANCE_REPORTS_ENABLED=True,
        PERFORMANCE_REPORT_POLL_SECONDS=0.2,
        SPAPI_IDLE_SECONDS=0.1,
        SPAPI_RATE_SCALE=1000.0,
    )
    async with running_service(INGEST, settings, roles=("relay", "background")) as svc:
        yield svc


@pytest.fixture
async def analytics_only(analytics_settings: AnalyticsSettings) -> AsyncIterator[RunningService]:
    from analytics.bootstrap import SPEC

    async with running_service(SPEC, analytics_settings, roles=("worker",)) as svc:
        yield svc


async def _connect(ingest: RunningService, standin: StandIn) -> None:
    response = await ingest.client.post(
        "/v1/connections",
        json={
            "selling_partner_id": standin.seller_id,
            "region": "NA",
            "marketplace_ids": [US],
            "endpoint": standin.base_url,
            "lwa_token_url": f"{standin.base_url}/auth/o2/token",
            "credentials": {
                "client_id": standin.client_id,
                "client_secret": standin.client_secret,
                "refresh_token": standin.refresh_token,
            },
            "sync_from": iso(AS_OF - timedelta(days=1)),
        },
        headers=SYSTEM,
    )
    assert response.status_code == 201, response.text


async def _orderflows_figures(publisher: Publisher) -> None:
    """Four MFN orders, one with an A-to-z claim that counts: ODR 1/4, no cancellation."""
    placed = [snapshot(purchased=AS_OF - timedelta(days=2), seller=SELLER) for _ in range(4)]
    for order in placed:
        await publisher.publish(
            topics.ORDERS, orders.ORDER_CREATED, order, version=1, seller_id=SELLER
        )
    granted = claim(placed[0], counts=True, status="decided")
    granted = granted.model_copy(update={"seller_id": SELLER})
    await publisher.publish(topics.DEFECTS, "claim.decided", granted, version=1, seller_id=SELLER)


async def test_amazons_figures_appear_beside_orderflows(
    standin: StandIn,
    reporting_ingest: RunningService,
    analytics_only: RunningService,
    publisher: Publisher,
) -> None:
    standin.reports.serve(
        PERFORMANCE,
        performance_document(
            US,
            odr=(1, 4, "0.25"),  # agrees with ours
            late_shipment=(2, 100, "0.02"),  # we have no order due to ship: nothing to compare
            cancel=(1, 4, "0.25"),  # we count no cancellation: 0.0000
            valid_tracking=(95, 100, "0.95"),
            on_time_delivery=(90, 95, "0.9474"),
            account_status="AT_RISK",
        ),
    )
    await _orderflows_figures(publisher)
    await wait_applied(analytics_only, publisher.sent)
    await _connect(reporting_ingest, standin)

    async def reported() -> dict[str, Any] | None:
        response = await analytics_only.client.get(
            "/v1/account-health", params={"as_of": iso(AS_OF)}, headers=OPS
        )
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body if body["amazon_reports"] else None

    body = await eventually(reported, timeout=30)
    assert [r[0] for r in standin.reports.requested] == [PERFORMANCE]
    [report] = body["amazon_reports"]
    assert (report["marketplace_id"], report["account_status"]) == (US, "AT_RISK")
    metrics = {(m["name"], m["scope"]): m for m in body["metrics"]}

    odr = metrics[("order_defect_rate", "MFN")]
    assert (odr["value"], odr["amazon"]["value"], odr["amazon"]["disagrees"]) == (
        "0.2500",
        "0.25",
        False,
    )
    assert (odr["amazon"]["numerator"], odr["amazon"]["denominator"]) == (1, 4)
    cancel = metrics[("pre_fulfillment_cancel_rate", "MFN")]
    assert (cancel["value"], cancel["amazon"]["value"]) == ("0.0000", "0.25")
    assert (cancel["amazon"]["disagrees"], cancel["amazon"]["difference"]) == (True, "0.2500")
    [us] = cancel["amazon"]["by_marketplace"]
    assert (us["marketplace_id"], us["status"]) == (US, "BAD")
    lsr = metrics[("late_shipment_rate", "30d")]
    assert (lsr["value"], lsr["amazon"]["value"], lsr["amazon"]["disagrees"]) == (
        None,
        "0.02",
        None,
    )
    assert metrics[("late_shipment_rate", "10d")]["amazon"] is None  # Amazon reports 30 days
    otd = metrics[("on_time_delivery_rate", "MFN")]
    assert (otd["status"], otd["amazon"]["value"], otd["amazon"]["disagrees"]) == (
        "insufficient_data",
        "0.9474",
        None,
    )

    # ingest kept the report: Amazon's document, done, on the connection's seller
    reports = ingest_orm.amazon_performance_reports
    async with reporting_ingest.resources.sessions() as session:
        [row] = (await session.execute(select(reports))).all()
    assert (row.seller_id, row.status, row.error) == (SELLER, "done", None)
    assert row.document["performanceMetrics"][0]["marketplaceId"] == US
