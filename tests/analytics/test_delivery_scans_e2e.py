"""Carrier scans posted to fulfillment's ``POST /v1/tracking-events`` travel on fulfillment.v1
to analytics, whose on-time delivery and valid tracking rates equal a count made by hand.

Fulfillment (consumer and relay) and analytics (consumer) run in-process on the real Kafka and
PostgreSQL; orders reach fulfillment through its own applier, as orders.v1 would bring them.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from analytics.settings import AnalyticsSettings
from fulfillment.bootstrap import SPEC as FULFILLMENT
from fulfillment.settings import FulfillmentSettings
from orderflow_testkit.harness import RunningService, eventually, running_service
from orderflow_testkit.samples import iso
from shared.messaging.envelope import CloudEvent
from tests.analytics.conftest import KEYS
from tests.fulfillment.conftest import PII_KEY, apply, snapshot

pytestmark = pytest.mark.e2e

SELLER = "A9SCANSELLER01"  # this test's own: the session's topics carry other tests' sellers
SYSTEM = {"Authorization": "Bearer sys-key", "X-Seller-Id": SELLER}
OPS = {"Authorization": "Bearer ops-key", "X-Seller-Id": SELLER}
AS_OF = datetime(2026, 6, 30, 12, 0, tzinfo=UTC)
D = timedelta(days=1)


@pytest.fixture
async def fulfillment(
    make_database: Callable[[str], str], kafka_bootstrap: str, topic_prefix: str
) -> AsyncIterator[RunningService]:
    settings = FulfillmentSettings(
        DATABASE_URL=make_database("fulfillment"),
        KAFKA_BOOTSTRAP_SERVERS=kafka_bootstrap,
        KAFKA_TOPIC_PREFIX=topic_prefix,
        ORDERFLOW_API_KEYS=KEYS,
        ORDERFLOW_PII_KEY=PII_KEY,
    )
    async with running_service(FULFILLMENT, settings, roles=("relay",)) as svc:
        yield svc


@pytest.fixture
async def analytics_only(
    analytics_settings: AnalyticsSettings,
) -> AsyncIterator[RunningService]:
    from analytics.bootstrap import SPEC

    async with running_service(SPEC, analytics_settings, roles=("worker",)) as svc:
        yield svc


class Desk:
    """The seller's side: orders arrive, parcels are confirmed, carriers post scans."""

    def __init__(self, svc: RunningService) -> None:
        self.svc = svc

    def at(self, moment: datetime) -> None:
        self.svc.resources.deps.clock = lambda: moment

    async def order(self, *, purchased: datetime, promised: datetime) -> str:
        snap = snapshot(
            seller_id=SELLER,
            purchased=purchased,
            latest_ship_date=purchased + 2 * D,
            latest_delivery_date=promised,
        )
        assert await apply(self.svc, snap)
        return snap.amazon_order_id

    async def ship(self, oid: str, tracking: str, *, on: datetime) -> None:
        self.at(on)
        response = await self.svc.client.post(
            f"/v1/orders/{oid}/shipments",
            json={"carrier_code": "UPS", "tracking_number": tracking, "ship_date": iso(on)},
            headers=SYSTEM,
        )
        assert response.status_code == 201, response.text

    async def scan(self, tracking: str, status: str, at: datetime) -> dict[str, Any]:
        self.at(AS_OF)
        response = await self.svc.client.post(
            "/v1/tracking-events",
            json={
                "carrier_code": "UPS",
                "tracking_number": tracking,
                "status": status,
                "occurred_at": iso(at),
            },
            headers=SYSTEM,
        )
        assert response.status_code in (200, 201), response.text
        body: dict[str, Any] = response.json()
        return body


async def _applied_everything(fulfillment: RunningService, analytics: RunningService) -> None:
    """Wait until analytics has applied every event fulfillment queued in this test."""
    outbox, inbox = fulfillment.resources.tables.outbox, analytics.resources.tables.inbox
    async with fulfillment.resources.sessions() as session:
        payloads = (await session.execute(select(outbox.c.payload))).scalars().all()
    queued = {CloudEvent.from_bytes(p).id for p in payloads}
    assert len(queued) > 20

    async def applied() -> bool:
        async with analytics.resources.sessions() as session:
            stmt = select(inbox.c.event_id).where(inbox.c.event_id.in_(queued))
            return len((await session.execute(stmt)).all()) == len(queued)

    await eventually(applied, timeout=30)


def ups(n: int) -> str:
    return f"1Z999AA1{n:010d}"


async def test_on_time_delivery_from_posted_scans_matches_a_hand_count(
    fulfillment: RunningService, analytics_only: RunningService
) -> None:
    desk = Desk(fulfillment)
    promised = {  # latest_delivery_date of each order
        "a": AS_OF - 10 * D,  # delivered a day early: on time
        "b": AS_OF - 10 * D,  # delivered two days late
        "c": AS_OF - 8 * D,  # in transit, never delivered: late
        "d": AS_OF - 6 * D,  # delivered at the promised moment exactly: on time
        "e": AS_OF - 5 * D,  # no scan at all: not tracked, so not in on-time delivery
        "f": AS_OF - 20 * D,  # promised before the 14-day window: only in valid tracking
        "g1": AS_OF - 4 * D,  # g1 and g2 travel in one parcel: one scan, two shipments
        "g2": AS_OF - 4 * D,
        "h": AS_OF - 3 * D,  # its delivered scan is posted twice: counted once
        "i": AS_OF - 3 * D,  # a label made (pre_transit), never scanned: not tracked
        "j": AS_OF - 6 * D,  # delivered before the seller gave the tracking number: not on time
    }
    oids = {k: await desk.order(purchased=p - 6 * D, promised=p) for k, p in promised.items()}
    parcel = {k: ups(n) for n, k in enumerate(promised)}
    parcel["g2"] = parcel["g1"]
    for key, oid in oids.items():
        shipped = promised[key] - 4 * D if key != "j" else promised[key] - D
        await desk.ship(oid, parcel[key], on=shipped)

    for key in ("a", "b", "c", "d", "f", "g1", "h", "j"):
        await desk.scan(parcel[key], "in_transit", promised[key] - 3 * D)
    delivered = {
        "a": promised["a"] - D,
        "b": promised["b"] + 2 * D,
        "d": promised["d"],
        "f": promised["f"] - D,
        "g1": promised["g1"] - D,
        "h": promised["h"] - timedelta(hours=5),
        "j": promised["j"] - 2 * D,
    }
    for key, at in delivered.items():
        together = await desk.scan(parcel[key], "delivered", at)
        assert together["recorded"] is True
    assert {s["amazon_order_id"] for s in together["shipments"]} == {oids["j"]}
    both = await desk.scan(parcel["g1"], "out_for_delivery", promised["g1"] - 2 * D)
    assert sorted(s["amazon_order_id"] for s in both["shipments"]) == sorted(
        [oids["g1"], oids["g2"]]
    )
    again = await desk.scan(parcel["h"], "delivered", delivered["h"])
    assert again["recorded"] is False and again["shipments"][0]["scans"] == 2
    await desk.scan(parcel["i"], "pre_transit", promised["i"] - 4 * D)

    # By hand. On-time delivery: the tracked shipments promised in [AS_OF - 14d, AS_OF] are
    # a, b, c, d, g1, g2, h, j (e and i have no physical scan, f was promised too early);
    # on time: a, d, g1, g2, h. Late: b (delivered late), c (no delivery), j (tracking given
    # after the delivery). Valid tracking over 30 days: all eleven promised, nine scanned.
    await _applied_everything(fulfillment, analytics_only)
    response = await analytics_only.client.get(
        "/v1/account-health", params={"as_of": iso(AS_OF)}, headers=OPS
    )
    assert response.status_code == 200, response.text
    metrics = {(m["name"], m["scope"]): m for m in response.json()["metrics"]}
    otd = metrics[("on_time_delivery_rate", "MFN")]
    assert (otd["value"], otd["numerator"], otd["denominator"]) == ("0.6250", 5, 8)
    assert otd["status"] == "critical"
    assert otd["breakdown"] == {
        "delivered_late": 1,
        "no_delivery_scan": 1,
        "tracking_after_delivery": 1,
    }
    vtr = metrics[("valid_tracking_rate", "MFN")]
    assert (vtr["value"], vtr["status"], vtr["breakdown"]) == (
        "0.8182",
        "critical",
        {"without_scan": 2},
    )
    assert otd["amazon"] is None  # no report from Amazon for this seller
