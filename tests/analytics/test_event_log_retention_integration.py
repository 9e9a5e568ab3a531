"""The event log (``order_events``, the timeline the trace shows) keeps EVENT_LOG_RETENTION_DAYS.

Every event analytics reads is one row of it, so without a bound it grows with every order the
seller ever had. Rows older than the retention are deleted in batches by a background job;
the read models (sales, account health) are not touched.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import ValidationError
from sqlalchemy import func, select, update

from analytics.adapters import orm
from analytics.bootstrap import SPEC
from analytics.service_layer import event_log
from analytics.settings import AnalyticsSettings
from orderflow_testkit.harness import RunningService, eventually, running_service
from shared import topics
from shared.events import orders
from shared.events.orders import OrderSnapshot
from tests.analytics.conftest import OPS, SELLER, Publisher, analytics_settings_for, wait_applied
from tests.analytics.factories import snapshot

pytestmark = pytest.mark.integration

NOW = datetime.now(UTC)


@pytest.fixture
def analytics_settings(
    make_database: Callable[[str], str], kafka_bootstrap: str, topic_prefix: str
) -> AnalyticsSettings:
    return analytics_settings_for(
        make_database,
        kafka_bootstrap,
        topic_prefix,
        EVENT_LOG_RETENTION_DAYS=30,
        EVENT_LOG_TRIM_INTERVAL_SECONDS=0.2,
        EVENT_LOG_TRIM_BATCH=2,
        ALERT_INTERVAL_SECONDS=3600,
    )


async def _apply(svc: RunningService, publisher: Publisher, count: int) -> list[OrderSnapshot]:
    made = [snapshot(purchased=NOW - timedelta(hours=1)) for _ in range(count)]
    for order in made:
        await publisher.publish(topics.ORDERS, orders.ORDER_CREATED, order, version=1)
    await wait_applied(svc, publisher.sent)
    return made


async def _recorded_days_ago(svc: RunningService, ids: list[str], days: int) -> None:
    e = orm.order_events.c
    async with svc.resources.sessions() as session, session.begin():
        await session.execute(
            update(orm.order_events)
            .where(e.subject.in_(ids))
            .values(recorded_at=func.now() - timedelta(days=days))
        )


async def _logged(svc: RunningService, ids: list[str]) -> set[str]:
    e = orm.order_events.c
    async with svc.resources.sessions() as session:
        rows = await session.execute(select(e.subject).where(e.subject.in_(ids)))
        return set(rows.scalars())


async def _trace(svc: RunningService, oid: str) -> dict[str, Any]:
    response = await svc.client.get(f"/v1/orders/{oid}/trace", headers=OPS)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_the_background_job_trims_events_past_retention_and_keeps_the_rest(
    live: RunningService, publisher: Publisher
) -> None:
    made = await _apply(live, publisher, 7)
    ids = [o.amazon_order_id for o in made]
    old, recent, young = ids[:5], ids[5:6], ids[6:]
    await _recorded_days_ago(live, old, 31)
    await _recorded_days_ago(live, recent, 29)

    async def trimmed() -> bool:
        return not await _logged(live, old)

    # five rows past 30 days, in batches of two: three batches in one round
    assert await eventually(trimmed, timeout=10)
    assert await _logged(live, ids) == {*recent, *young}

    # the read models keep the trimmed orders: the trace still finds the order, with no events
    trace = await _trace(live, old[0])
    assert trace["events"] == []
    assert trace["read_model"]["order"]["seller_id"] == SELLER
    async with live.resources.sessions() as session:
        kept = select(func.count()).where(orm.orders.c.amazon_order_id.in_(ids))
        assert (await session.execute(kept)).scalar_one() == 7


@contextlib.asynccontextmanager
async def _with_old_events(
    settings: AnalyticsSettings, publisher: Publisher, made: int, old: int
) -> AsyncIterator[tuple[RunningService, list[str]]]:
    """Analytics (no background jobs) with ``made`` orders applied, the first ``old`` of them
    recorded 40 days ago; yields the service and the order ids."""
    async with running_service(SPEC, settings, roles=("worker", "relay")) as svc:
        ids = [o.amazon_order_id for o in await _apply(svc, publisher, made)]
        await _recorded_days_ago(svc, ids[:old], 40)
        yield svc, ids


async def test_one_trim_counts_what_it_deleted_in_batches(
    analytics_settings: AnalyticsSettings, publisher: Publisher
) -> None:
    async with _with_old_events(analytics_settings, publisher, 5, 3) as (svc, ids):
        new_uow = svc.resources.deps.uow
        assert await event_log.trim_once(new_uow, now=NOW, days=30, batch=2) == 3
        assert await event_log.trim_once(new_uow, now=NOW, days=30, batch=2) == 0
        assert await _logged(svc, ids) == set(ids[3:])


async def test_two_api_replicas_trimming_at_once_share_the_rows(
    analytics_settings: AnalyticsSettings, publisher: Publisher
) -> None:
    async with _with_old_events(analytics_settings, publisher, 12, 10) as (svc, ids):
        new_uow = svc.resources.deps.uow
        both = await asyncio.gather(
            *(event_log.trim_once(new_uow, now=NOW, days=30, batch=3) for _ in range(2))
        )
        assert sum(both) == 10
        assert await _logged(svc, ids) == set(ids[10:])


@pytest.mark.parametrize("days", ["0", "-1", "many"])
def test_a_retention_that_would_keep_nothing_is_refused_at_start(days: str) -> None:
    with pytest.raises(ValidationError, match="EVENT_LOG_RETENTION_DAYS"):
        AnalyticsSettings(EVENT_LOG_RETENTION_DAYS=days)
