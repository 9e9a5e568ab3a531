"""The alert job raises once per crossing and clears; the ops overview reports lag and peers."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from analytics.bootstrap import SPEC
from analytics.service_layer.alerting import AlertJob
from analytics.settings import AnalyticsSettings
from orderflow_testkit.harness import RunningService, eventually, read_topic, running_service
from shared import topics
from shared.events import fulfillment, orders
from shared.messaging.envelope import CloudEvent
from tests.analytics.conftest import (
    OPS,
    SELLER,
    SELLER_KEY,
    Publisher,
    analytics_settings_for,
    wait_applied,
)
from tests.analytics.factories import cancel, snapshot

pytestmark = pytest.mark.integration

SUBJECT = f"{SELLER}:pre_fulfillment_cancel_rate:MFN"


@pytest.fixture
def analytics_settings(
    make_database: Callable[[str], str], kafka_bootstrap: str, topic_prefix: str
) -> AnalyticsSettings:
    return analytics_settings_for(
        make_database,
        kafka_bootstrap,
        topic_prefix,
        ALERT_INTERVAL_SECONDS=0.2,
        ALERT_SELLER_SECONDS=0,
        ORDERFLOW_SERVICE_URLS="fulfillment=http://127.0.0.1:9",
        PEER_TIMEOUT_SECONDS=0.5,
    )


async def _alerts(svc: RunningService) -> list[dict[str, Any]]:
    response = await svc.client.get("/v1/alerts", headers=SELLER_KEY)
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


async def _published(svc: RunningService, count: int) -> list[CloudEvent]:
    settings = svc.resources.settings
    records = await read_topic(
        settings.kafka_bootstrap_servers,
        settings.topic(topics.ANALYTICS),
        until=lambda rs: sum(r.key == SUBJECT.encode() for r in rs) >= count,
        timeout=20,
    )
    return [CloudEvent.from_bytes(r.value) for r in records if r.key == SUBJECT.encode()]


async def test_a_crossing_raises_one_alert_and_recovery_clears_it(
    live: RunningService, publisher: Publisher
) -> None:
    now = datetime.now(UTC)
    first = [
        snapshot(purchased=now - timedelta(hours=1), latest_ship=now + timedelta(days=2))
        for _ in range(2)
    ]
    for order in first:
        await publisher.publish(topics.ORDERS, orders.ORDER_CREATED, order, version=1)
    await wait_applied(live, publisher.sent)  # both orders before the cancel: 1/2, never 1/1
    await publisher.publish(
        topics.FULFILLMENT, fulfillment.ORDER_CANCELED, cancel(first[0], at=now), version=1
    )
    await wait_applied(live, publisher.sent)

    async def raised() -> list[dict[str, Any]]:
        return [a for a in await _alerts(live) if a["state"] == "active"]

    [alert] = await eventually(raised, timeout=20)
    assert (alert["metric"], alert["scope"], alert["status"]) == (
        "pre_fulfillment_cancel_rate",
        "MFN",
        "critical",
    )
    assert (alert["value"], alert["numerator"], alert["denominator"]) == ("0.5000", 1, 2)
    assert alert["threshold"] == "0.0250"
    [event] = await _published(live, 1)
    assert (event.type, event.data["alert_id"], event.data["status"]) == (
        "alert.raised",
        alert["id"],
        "critical",
    )

    # still crossed after several evaluations: raised once, not again
    await asyncio.sleep(1.0)  # five more passes of the 0.2 s job
    assert len(await _alerts(live)) == 1

    # 39 more orders without cancels: 1/41 = 2.44% < 2.5%, so the alert clears
    for _ in range(39):
        more = snapshot(purchased=now - timedelta(hours=1), latest_ship=now + timedelta(days=2))
        await publisher.publish(topics.ORDERS, orders.ORDER_CREATED, more, version=1)
    await wait_applied(live, publisher.sent)

    async def cleared() -> list[dict[str, Any]]:
        return [a for a in await _alerts(live) if a["state"] == "cleared"]

    [done] = await eventually(cleared, timeout=20)
    assert done["id"] == alert["id"] and done["cleared_at"] is not None
    events = await _published(live, 2)
    assert [e.type for e in events] == ["alert.raised", "alert.cleared"]
    other = await live.client.get("/v1/alerts", headers={"Authorization": "Bearer other-key"})
    assert other.json()["items"] == []


async def test_ops_overview_shows_lag_dead_letters_backlog_and_peers(
    live: RunningService, publisher: Publisher
) -> None:
    order = snapshot(purchased=datetime.now(UTC))
    await publisher.publish(topics.ORDERS, orders.ORDER_CREATED, order, version=1)
    await wait_applied(live, 1)
    group = f"{live.resources.settings.kafka_topic_prefix}orderflow-analytics"
    orders_topic = live.resources.settings.topic(topics.ORDERS)

    async def caught_up() -> dict[str, Any] | None:
        response = await live.client.get("/v1/ops/overview", headers=OPS)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        [mine] = [g for g in body["consumer_lag"]["groups"] if g["service"] == "analytics"]
        parts = [p for p in mine["partitions"] if p["topic"] == orders_topic]
        return body if parts and mine["total"] == 0 else None

    overview = await eventually(caught_up, timeout=20)
    [mine] = [g for g in overview["consumer_lag"]["groups"] if g["service"] == "analytics"]
    assert mine["group"] == group
    assert {p["topic"] for p in mine["partitions"]} <= {
        live.resources.settings.topic(t) for t in SPEC.subscribes
    }
    own = overview["services"]["analytics"]
    assert own["dead_letters"] == {} and isinstance(own["outbox_backlog"], int)
    assert own["ready"] is True
    assert own["progress"]["stalled"].get("worker") is False  # applied and caught up
    assert overview["services"]["fulfillment"]["reachable"] is False
    assert overview["services"]["fulfillment"]["ready"] is False
    forbidden = await live.client.get("/v1/ops/overview", headers=SELLER_KEY)
    assert forbidden.status_code == 403


@pytest.fixture
async def worker_only(analytics_settings: AnalyticsSettings) -> AsyncIterator[RunningService]:
    async with running_service(SPEC, analytics_settings, roles=("worker",)) as svc:
        yield svc


async def test_the_alert_job_evaluates_only_sellers_with_new_events_or_moved_windows(
    worker_only: RunningService, publisher: Publisher
) -> None:
    """Each seller with new events at most once a minute; a seller with nothing new again only
    once time alone has moved one of its rows across a window's edge."""
    job = AlertJob(worker_only.resources.deps.uow, recheck_seconds=300, seller_seconds=60)
    now = datetime.now(UTC)
    # The job's clock runs an hour ahead of the events' recorded_at: the recheck for events
    # committed late (which looks back two periods) finds none of them.
    at = now + timedelta(hours=1)
    await publisher.publish(topics.ORDERS, orders.ORDER_CREATED, snapshot(purchased=now), version=1)
    await wait_applied(worker_only, publisher.sent)

    assert await job.tick(at) is None  # the first pass: every seller
    assert await job.tick(at + timedelta(seconds=5)) == []  # nothing new: nobody

    other = snapshot(purchased=now).model_copy(update={"seller_id": "A9OTHERSELLER"})
    await publisher.publish(
        topics.ORDERS, orders.ORDER_CREATED, other, version=1, seller_id="A9OTHERSELLER"
    )
    await wait_applied(worker_only, publisher.sent)
    assert await job.tick(at + timedelta(seconds=10)) == ["A9OTHERSELLER"]
    assert await job.tick(at + timedelta(seconds=15)) == []

    again = snapshot(purchased=now).model_copy(update={"seller_id": "A9OTHERSELLER"})
    await publisher.publish(
        topics.ORDERS, orders.ORDER_CREATED, again, version=1, seller_id="A9OTHERSELLER"
    )
    await wait_applied(worker_only, publisher.sent)
    assert await job.tick(at + timedelta(seconds=20)) == []  # evaluated 10 s ago: waits
    assert await job.tick(at + timedelta(seconds=71)) == ["A9OTHERSELLER"]
    assert await job.tick(at + timedelta(seconds=301)) == []  # nothing changed: nobody
    # A week on, the orders leave the 7-day cancel-rate window: time alone changed the counts.
    assert await job.tick(at + timedelta(days=8)) == sorted([SELLER, "A9OTHERSELLER"])
    assert await job.tick(at + timedelta(days=8, seconds=5)) == []
