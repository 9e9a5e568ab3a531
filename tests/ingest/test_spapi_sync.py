"""The SP-API poller against the stand-in: orders arrive with nobody posting them, every page
is followed, a restart neither misses nor duplicates, and Amazon's rates are obeyed."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from spapi_standin.harness import SELLER_KEY, connect, counts, events_by_order
from spapi_standin.orders import v2026_order
from spapi_standin.server import Fault, StandIn
from sqlalchemy import select

from ingest.adapters import orm
from ingest.amazon.service_layer.sync import Poller, poller_of
from ingest.bootstrap import SPEC
from ingest.settings import IngestSettings
from orderflow_testkit.harness import RunningService, eventually, running_service

pytestmark = pytest.mark.integration


def _orders(standin: StandIn, count: int, *, now: datetime) -> list[dict[str, Any]]:
    """``count`` orders, updated between 3 hours and 10 minutes ago (outside the 2-min lag)."""
    made = []
    for n in range(count):
        updated = now - timedelta(minutes=10 + 7 * ((n * 5) % count))  # not in creation order
        order = v2026_order(created=now - timedelta(hours=3, minutes=-n), updated=updated)
        standin.put(order)
        made.append(order)
    return made


async def _connection(svc: RunningService) -> Any:
    async with svc.resources.sessions() as session:
        return (await session.execute(select(orm.spapi_connections))).one()


async def _drain(poller: Poller) -> None:
    """Run passes until no connection is due (the test's poll interval is short)."""
    while await poller.sync_once():
        pass


async def test_connected_sellers_orders_reach_orders_v1_without_any_post(
    make_standin: Callable[..., StandIn], spapi_settings: IngestSettings
) -> None:
    standin = make_standin(scale=1000)
    now = datetime.now(UTC)
    made = _orders(standin, 7, now=now)
    async with running_service(SPEC, spapi_settings, roles=("relay", "background")) as svc:
        await connect(svc, standin, sync_from=now - timedelta(days=1))
        ids = {o["orderId"] for o in made}
        events = await events_by_order(svc, ids)
        row = await _connection(svc)
        one = await svc.client.get(f"/v1/orders/{made[0]['orderId']}", headers=SELLER_KEY)
    assert counts(events) == {1: 7}
    assert {e.type for v in events.values() for e in v} == {"order.created"}
    assert {e.aggregateversion for v in events.values() for e in v} == {1}
    assert one.json()["intake_source"] == "sp-api"
    assert one.json()["order"]["items"][0]["asin"] == "B000000001"
    assert one.json()["order"]["order_status"] == "Unshipped"
    # every page was followed (3 per page: 3 searchOrders calls), the cursor moved to the window
    assert len(standin.requests_of("searchOrders", 200)) >= 3
    assert row.window_before is None and row.page_token is None
    assert now - timedelta(minutes=2, seconds=5) < row.last_updated_after <= now
    assert row.orders_synced == 7


async def test_v0_fallback_reads_orders_and_their_items(
    make_standin: Callable[..., StandIn], spapi_ingest: RunningService
) -> None:
    standin = make_standin(scale=1000)
    now = datetime.now(UTC)
    made = _orders(standin, 5, now=now)
    await connect(spapi_ingest, standin, sync_from=now - timedelta(days=1), orders_api="v0")
    await _drain(poller_of(spapi_ingest.resources))
    events = await events_by_order(spapi_ingest, {o["orderId"] for o in made})
    assert counts(events) == {1: 5}
    assert len(standin.requests_of("getOrders", 200)) == 2  # pages of 3: NextToken followed
    assert len(standin.requests_of("getOrderItems", 200)) == 5
    assert standin.requests_of("searchOrders") == []
    snapshot = next(iter(events.values()))[0].data
    assert snapshot["items"][0]["quantity_ordered"] == 2
    assert snapshot["intake_source"] == "sp-api"


async def test_restart_after_failure_neither_misses_nor_duplicates(
    make_standin: Callable[..., StandIn], spapi_ingest: RunningService
) -> None:
    standin = make_standin(scale=1000)
    now = datetime.now(UTC)
    made = _orders(standin, 8, now=now)  # 3 pages of 3, 3, 2
    standin.faults.append(Fault("searchOrders", 500, after=2))  # page 3 fails, every time
    await connect(spapi_ingest, standin, sync_from=now - timedelta(days=1))

    first = poller_of(spapi_ingest.resources)
    assert await first.sync_once()
    stopped = await _connection(spapi_ingest)
    assert stopped.page_token is not None and stopped.window_before is not None
    assert stopped.last_updated_after == now - timedelta(days=1)  # not moved mid-window
    assert "searchOrders failed after 3 attempts" in stopped.last_error
    assert stopped.orders_synced == 6
    assert len(standin.requests_of("searchOrders", 500)) == 3  # bounded retries

    standin.faults.clear()
    await asyncio.sleep(0.3)  # the failed connection is due again after the poll interval
    restarted = poller_of(spapi_ingest.resources)  # a new process: a new owner, no memory
    await _drain(restarted)
    done = await _connection(spapi_ingest)
    events = await events_by_order(spapi_ingest, {o["orderId"] for o in made})
    assert counts(events) == {1: 8}
    assert {e.aggregateversion for v in events.values() for e in v} == {1}
    assert done.page_token is None and done.window_before is None and done.last_error is None
    assert done.last_updated_after == stopped.window_before  # the cursor moved to the window end
    assert done.orders_synced == 8


async def test_cancelled_mid_sync_resumes_from_the_stored_page(
    make_standin: Callable[..., StandIn], spapi_ingest: RunningService
) -> None:
    standin = make_standin(scale=1000)
    now = datetime.now(UTC)
    made = _orders(standin, 9, now=now)
    await connect(spapi_ingest, standin, sync_from=now - timedelta(days=1))
    poller = poller_of(spapi_ingest.resources)
    poller.spapi.settings = poller.spapi.settings.model_copy(update={"spapi_lease_seconds": 0.5})
    task = asyncio.ensure_future(poller.sync_once())
    await eventually(lambda: len(standin.requests_of("searchOrders", 200)) >= 2, timeout=10)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    await asyncio.sleep(0.6)  # the cancelled pass's lease runs out
    restarted = poller_of(spapi_ingest.resources)

    async def caught_up() -> bool:
        # A cancelled transaction's row lock lasts until its connection is really closed;
        # meanwhile SKIP LOCKED passes the connection by, so the new poller keeps trying.
        await _drain(restarted)
        row = await _connection(spapi_ingest)
        return row.last_sync_at is not None and row.page_token is None

    await eventually(caught_up, timeout=20, interval=0.2)
    events = await events_by_order(spapi_ingest, {o["orderId"] for o in made})
    assert counts(events) == {1: 9}
    row = await _connection(spapi_ingest)
    assert row.page_token is None and row.last_updated_after > now - timedelta(minutes=3)


async def test_expired_page_token_rereads_the_window_without_new_events(
    make_standin: Callable[..., StandIn], spapi_ingest: RunningService
) -> None:
    standin = make_standin(scale=1000)
    now = datetime.now(UTC)
    made = _orders(standin, 6, now=now)
    standin.faults.append(Fault("searchOrders", 503, after=1))
    await connect(spapi_ingest, standin, sync_from=now - timedelta(days=1))
    await poller_of(spapi_ingest.resources).sync_once()  # page 1 stored, then 503s
    standin.faults.clear()
    standin.expire_page_tokens()
    await asyncio.sleep(0.3)
    await _drain(poller_of(spapi_ingest.resources))
    events = await events_by_order(spapi_ingest, {o["orderId"] for o in made})
    assert counts(events) == {1: 6}
    assert len(standin.requests_of("searchOrders", 400)) == 1  # the expired token, once


async def test_searchorders_rate_is_obeyed_as_measured_by_the_standin(
    make_standin: Callable[..., StandIn], spapi_settings: IngestSettings
) -> None:
    # 25 pages: 20 from the burst, then one per 1/(0.0056*500) s = 0.36 s.
    standin = make_standin(scale=500)
    settings = spapi_settings.model_copy(update={"spapi_rate_scale": 500.0, "spapi_page_size": 1})
    now = datetime.now(UTC)
    made = _orders(standin, 25, now=now)
    async with running_service(SPEC, settings, roles=("relay",)) as svc:
        await connect(svc, standin, sync_from=now - timedelta(days=1))
        await poller_of(svc.resources).sync_once()
        events = await events_by_order(svc, {o["orderId"] for o in made})
    served = standin.requests_of("searchOrders", 200)
    assert counts(events) == {1: 25}
    assert len(served) == 25
    assert standin.max_excess("searchOrders") <= 1.0  # at most one request of network jitter
    assert len(standin.requests_of("searchOrders", 429)) <= 1
    assert served[-1].at - served[0].at >= 4 * 0.36 * 0.9  # the last 5 waited for tokens


async def test_429_backs_off_by_the_advertised_rate_and_gets_everything(
    make_standin: Callable[..., StandIn], spapi_ingest: RunningService
) -> None:
    # The stand-in's plan for this seller is tighter than Amazon's default (burst 2, not 20):
    # the client learns it only from the 429s and their x-amzn-RateLimit-Limit.
    # A slow rate (scale 100: one searchOrders token every 1.8 s) so that even a client slowed
    # down by a busy machine outruns the burst and meets 429s.
    scale = 100
    standin = make_standin(scale=scale, burst={"searchOrders": 2})
    now = datetime.now(UTC)
    made = _orders(standin, 12, now=now)
    await connect(spapi_ingest, standin, sync_from=now - timedelta(days=1))
    poller = poller_of(spapi_ingest.resources)
    poller.spapi.settings = poller.spapi.settings.model_copy(update={"spapi_max_attempts": 6})
    await _drain(poller)
    events = await events_by_order(spapi_ingest, {o["orderId"] for o in made})
    assert counts(events) == {1: 12}
    throttled = standin.requests_of("searchOrders", 429)
    assert throttled, "the tighter plan should have throttled the client"
    period = 1 / (0.0056 * scale)
    every = standin.requests_of("searchOrders")
    for refused in throttled:
        later = [r for r in every if r.at > refused.at]
        assert later and later[0].at - refused.at >= period * 0.8  # waited, did not hammer


async def test_two_instances_never_sync_one_connection_at_once(
    make_standin: Callable[..., StandIn], spapi_ingest: RunningService
) -> None:
    standin = make_standin(scale=1000)
    now = datetime.now(UTC)
    made = _orders(standin, 9, now=now)
    await connect(spapi_ingest, standin, sync_from=now - timedelta(days=1))
    one, two = poller_of(spapi_ingest.resources), poller_of(spapi_ingest.resources)
    claimed = await asyncio.gather(one.sync_once(), two.sync_once())
    assert sorted(claimed) == [False, True]  # the second found the connection leased
    events = await events_by_order(spapi_ingest, {o["orderId"] for o in made})
    assert counts(events) == {1: 9}
    assert len(standin.requests_of("searchOrders", 200)) == 3  # one reader, three pages


async def test_paused_connection_is_not_polled(
    make_standin: Callable[..., StandIn], spapi_ingest: RunningService
) -> None:
    standin = make_standin(scale=1000)
    now = datetime.now(UTC)
    _orders(standin, 2, now=now)
    conn = await connect(spapi_ingest, standin, sync_from=now - timedelta(days=1))
    paused = await spapi_ingest.client.post(
        f"/v1/connections/{conn['id']}/pause", headers=SELLER_KEY
    )
    assert paused.json()["status"] == "paused"
    assert not await poller_of(spapi_ingest.resources).sync_once()
    assert standin.requests_of("searchOrders") == []
    await spapi_ingest.client.post(f"/v1/connections/{conn['id']}/resume", headers=SELLER_KEY)
    assert await poller_of(spapi_ingest.resources).sync_once()
    assert len(standin.requests_of("searchOrders", 200)) == 1


async def test_no_secret_reaches_the_logs(
    make_standin: Callable[..., StandIn],
    spapi_ingest: RunningService,
    caplog: pytest.LogCaptureFixture,
) -> None:
    standin = make_standin(scale=1000)
    now = datetime.now(UTC)
    _orders(standin, 4, now=now)
    standin.faults.append(Fault("searchOrders", 500, times=1))  # a retry gets logged too
    caplog.set_level(logging.DEBUG)
    await connect(spapi_ingest, standin, sync_from=now - timedelta(days=1))
    await _drain(poller_of(spapi_ingest.resources))
    logged = "\n".join(f"{r.getMessage()} {r.__dict__}" for r in caplog.records)
    assert "sp-api retry" in logged
    secrets = [standin.client_secret, standin.refresh_token, *standin.access_tokens()]
    assert secrets[2:], "the stand-in issued an access token"
    for secret in secrets:
        assert secret not in logged
