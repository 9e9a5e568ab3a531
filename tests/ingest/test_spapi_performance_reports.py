"""Amazon's seller performance report, per connection, from the SP-API stand-in's Reports API:
requested once per interval, followed until done, stored and announced on orders.v1 (through
the outbox); a report Amazon cancels fails and is asked again at the next interval; a paused
connection is not asked."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from spapi_standin import StandIn
from spapi_standin.harness import SELLER_KEY, connect
from sqlalchemy import select

from ingest.adapters import orm
from ingest.amazon.service_layer.performance_reports import PerformanceReporter, reporter_of
from orderflow_testkit.harness import RunningService, eventually
from shared.events.performance import AMAZON_ACCOUNT_HEALTH_REPORTED
from shared.messaging.envelope import CloudEvent

pytestmark = pytest.mark.integration

DAY = timedelta(days=1)


class Clock:
    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now


def _reporter(svc: RunningService, clock: Clock) -> PerformanceReporter:
    reporter = reporter_of(svc.resources)
    reporter.clock = clock
    return reporter


async def _rows(svc: RunningService) -> list[Any]:
    t = orm.amazon_performance_reports
    async with svc.resources.sessions() as session:
        return list((await session.execute(select(t).order_by(t.c.id))).all())


async def _announced(svc: RunningService) -> list[CloudEvent]:
    outbox = svc.resources.tables.outbox
    async with svc.resources.sessions() as session:
        payloads = (await session.execute(select(outbox.c.payload))).scalars().all()
    events = [CloudEvent.from_bytes(p) for p in payloads]
    return [e for e in events if e.type == AMAZON_ACCOUNT_HEALTH_REPORTED]


async def _settle(reporter: PerformanceReporter, svc: RunningService, status: str) -> Any:
    async def settled() -> Any:
        await reporter.check_due()
        rows = await _rows(svc)
        return rows[-1] if rows[-1].status == status else None

    return await eventually(settled, timeout=15)


@pytest.fixture
def reporting(spapi_ingest: RunningService) -> RunningService:
    settings = spapi_ingest.resources.settings
    settings.performance_report_poll_seconds = 0.0  # check again at once
    return spapi_ingest


async def test_a_report_is_requested_followed_stored_and_announced(
    reporting: RunningService, make_standin: Any
) -> None:
    standin: StandIn = make_standin(scale=1000)
    standin.reports.compress = True
    await connect(reporting, standin, sync_from=datetime.now(UTC) - DAY)
    clock = Clock()
    reporter = _reporter(reporting, clock)

    assert await reporter.request_due() == 1
    assert await reporter.request_due() == 0  # one per interval
    row = await _settle(reporter, reporting, "done")
    assert standin.reports.requested == [("GET_V2_SELLER_PERFORMANCE_REPORT", ("ATVPDKIKX0DER",))]
    assert row.report_id is not None and row.error is None
    assert row.document["accountStatuses"][0]["status"] == "AT_RISK"  # the schema's example
    [event] = await _announced(reporting)
    assert (event.subject, event.aggregateversion) == (row.seller_id, row.id)
    [market] = event.data["marketplaces"]
    assert market["account_status"] == "AT_RISK" and len(market["metrics"]) == 6
    assert standin.max_excess("createReport") < 1 and not standin.requests_of("createReport", 429)

    clock.now += DAY + timedelta(minutes=1)  # the next interval
    assert await reporter.request_due() == 1
    second = await _settle(reporter, reporting, "done")
    assert second.id > row.id
    assert [e.aggregateversion for e in await _announced(reporting)] == [row.id, second.id]


async def test_a_cancelled_report_fails_and_a_paused_connection_is_not_asked(
    reporting: RunningService, make_standin: Any
) -> None:
    standin: StandIn = make_standin(scale=1000)
    standin.reports.cancel = 1
    connection = await connect(reporting, standin, sync_from=datetime.now(UTC) - DAY)
    clock = Clock()
    reporter = _reporter(reporting, clock)
    assert await reporter.request_due() == 1
    failed = await _settle(reporter, reporting, "failed")
    assert "CANCELLED" in failed.error and failed.document is None
    assert await _announced(reporting) == []

    paused = await reporting.client.post(
        f"/v1/connections/{connection['id']}/pause", headers=SELLER_KEY
    )
    assert paused.status_code == 200, paused.text
    clock.now += 2 * DAY
    assert await reporter.request_due() == 0
