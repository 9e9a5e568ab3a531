"""Analytics' service layer on fakes (no I/O): the Kafka handlers (projections), the queries,
the trace, the alert job and the event-log trim."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from pydantic import BaseModel

from analytics.domain.errors import NotThisSellersOrder
from analytics.domain.metrics import Ratio
from analytics.entrypoints.kafka.handlers import handlers
from analytics.service_layer import alerting, event_log, ops, queries
from analytics.service_layer.ports import IngestView, PartitionLag, Unreachable
from analytics.service_layer.trace import TracePorts, TraceRequest, trace
from shared import topics
from shared.events import ads, analytics, defects, fulfillment, orders, performance
from shared.events.ads import AdPerformance
from shared.events.fulfillment import PickupScheduled
from shared.events.performance import AmazonAccountHealth, AmazonMetric, MarketplacePerformance
from shared.events.registry import build_event
from shared.messaging.envelope import CloudEvent
from tests.analytics.factories import (
    cancel,
    claim,
    feedback,
    ship_late,
    shipment,
    snapshot,
    usd,
)
from tests.analytics.fakes import FakeIngest, FakeLag, FakeUnitOfWork, Store, counts, tracked

pytestmark = pytest.mark.unit

SELLER = "A2SELLER1EXAMPLE"
OTHER = "A3SELLER2EXAMPLE"
NOW = datetime(2026, 6, 1, 12, tzinfo=UTC)
TOPIC_OF = {"orders": topics.ORDERS, "fulfillment": topics.FULFILLMENT}


def _event(
    event_type: str, payload: BaseModel, *, version: int, subject: str, topic: str
) -> CloudEvent:
    seller: str = getattr(payload, "seller_id")  # noqa: B009 - every payload names its seller
    return build_event(
        topic=topic,
        event_type=event_type,
        payload=payload,
        source="test",
        subject=subject,
        seller_id=seller,
        version=version,
    )


async def _consume(store: Store, *events: tuple[str, BaseModel, int, str]) -> FakeUnitOfWork:
    """The events handed to the handler table in one consumer transaction (as the runner does:
    a run of one handler at once, then commit)."""
    table = handlers()
    uow = FakeUnitOfWork(store)
    async with uow:
        for event_type, payload, version, topic in events:
            subject = getattr(payload, "amazon_order_id", None) or f"ad:{version}"
            ce = _event(event_type, payload, version=version, subject=subject, topic=topic)
            await table[event_type](uow, ce, payload)
        await uow.commit()
    return uow


# --- Kafka handlers ----------------------------------------------------------------------------


async def test_a_newer_order_snapshot_replaces_the_older_and_an_older_one_is_ignored() -> None:
    store = Store()
    first = snapshot(purchased=NOW, quantity=1)
    newer = snapshot(purchased=NOW, oid=first.amazon_order_id, version=3, quantity=2)
    older = snapshot(purchased=NOW, oid=first.amazon_order_id, version=2, quantity=5)
    await _consume(store, (orders.ORDER_CREATED, first, 1, topics.ORDERS))
    await _consume(
        store,
        (orders.ORDER_UPDATED, newer, 3, topics.ORDERS),
        (orders.ORDER_UPDATED, older, 2, topics.ORDERS),
    )
    held = store.tables.orders[first.amazon_order_id]
    assert (held["version"], held["units"]) == (3, 2)
    assert [i["quantity"] for i in store.tables.items] == [2]
    assert [(e["version"], e["applied"]) for e in store.tables.events] == [
        (1, True),
        (3, True),
        (2, False),
    ]


async def test_both_snapshot_types_share_one_batched_handler() -> None:
    table = handlers()
    assert table[orders.ORDER_CREATED] is table[orders.ORDER_UPDATED]
    assert set(fulfillment.PAYLOADS) | set(defects.PAYLOADS) | set(ads.PAYLOADS) <= set(table)


async def test_shipment_cancel_and_ship_late_keep_the_fulfillment_row() -> None:
    store = Store()
    order = snapshot(purchased=NOW, latest_ship=NOW + timedelta(days=2))
    shipped = shipment(order, shipped=NOW + timedelta(days=1), on_time=False)
    await _consume(
        store,
        (fulfillment.ORDER_SHIP_LATE, ship_late(order, at=NOW + timedelta(days=3)), 1, "f"),
        (fulfillment.SHIPMENT_CONFIRMED, shipped, 2, "f"),
        (fulfillment.ORDER_CANCELED, cancel(order, at=NOW), 3, "f"),
    )
    row = store.tables.fulfillment[order.amazon_order_id]
    assert (row["version"], row["ship_late_version"], row["cancel_version"]) == (3, 1, 3)
    assert row["canceled_by"] == "seller"
    assert store.tables.shipments[shipped.shipment_id]["on_time"] is False
    again = await _consume(store, (fulfillment.ORDER_CANCELED, cancel(order, at=NOW), 3, "f"))
    assert again.commits == 1
    assert store.tables.events[-1]["applied"] is False


async def test_another_fulfillment_event_advances_the_order_version_only() -> None:
    store = Store()
    order = snapshot(purchased=NOW)
    pickup = PickupScheduled(
        amazon_order_id=order.amazon_order_id,
        seller_id=SELLER,
        fulfillment_channel="MFN",
        order_status="Unshipped",
        pickup_id="p-1",
        carrier_code="UPS",
        window_start=NOW,
        window_end=NOW + timedelta(hours=2),
    )
    await _consume(store, (fulfillment.PICKUP_SCHEDULED, pickup, 4, "f"))
    await _consume(store, (fulfillment.PICKUP_SCHEDULED, pickup, 2, "f"))
    assert store.tables.fulfillment[order.amazon_order_id]["version"] == 4
    assert [e["applied"] for e in store.tables.events] == [True, False]


async def test_claims_feedback_and_ad_rows_are_upserted_by_version() -> None:
    store = Store()
    order = snapshot(purchased=NOW)
    row = AdPerformance(
        seller_id=SELLER,
        date=NOW.date(),
        campaign_id="c-1",
        asin="B0MUG00001",
        clicks=10,
        spend=usd("5.00"),
        attributed_orders=1,
        attributed_sales=usd("20.00"),
    )
    await _consume(
        store,
        ("claim.filed", claim(order, counts=True), 1, "d"),
        ("chargeback.filed", claim(order, kind="chargeback", counts=False), 1, "d"),
        (defects.FEEDBACK_RECEIVED, feedback(order, rating=1, counts=True), 1, "d"),
        (ads.AD_PERFORMANCE_REPORTED, row, 1, "a"),
    )
    kinds = sorted(c["kind"] for c in store.tables.cases.values())
    assert kinds == ["a_to_z", "chargeback", "negative_feedback"]
    assert [a["spend"] for a in store.tables.ads.values()] == [Decimal("5.00")]


async def test_a_failing_projection_leaves_nothing_behind() -> None:
    store = Store()
    order = snapshot(purchased=NOW)
    table = handlers()
    uow = FakeUnitOfWork(store)
    ce = _event(fulfillment.ORDER_CANCELED, order, version=1, subject="x", topic=topics.FULFILLMENT)
    with pytest.raises(AttributeError):  # a snapshot is no cancel: the runner dead-letters it
        async with uow:
            await table[orders.ORDER_CREATED](uow, _orders_event(order), order)
            await table[fulfillment.ORDER_CANCELED](uow, ce, order)
            await uow.commit()
    assert uow.commits == 0
    assert store.tables.orders == {} and store.tables.events == []


def _orders_event(order: Any) -> CloudEvent:
    return _event(
        orders.ORDER_CREATED,
        order,
        version=order.version,
        subject=order.amazon_order_id,
        topic=topics.ORDERS,
    )


# --- queries -------------------------------------------------------------------------------


async def test_sales_count_each_order_once_and_exclude_canceled() -> None:
    store = Store()
    kept = snapshot(purchased=NOW, quantity=2)
    gone = snapshot(purchased=NOW)
    elsewhere = snapshot(purchased=NOW, seller=OTHER)
    await _consume(
        store,
        *((orders.ORDER_CREATED, o, 1, topics.ORDERS) for o in (kept, gone, elsewhere)),
        (fulfillment.ORDER_CANCELED, cancel(gone, at=NOW), 2, "f"),
    )
    report = await queries.sales(
        FakeUnitOfWork(store),
        seller_id=SELLER,
        start=NOW.date(),
        end=NOW.date(),
        granularity="day",
        group_by="sku",
    )
    assert report["totals"] == [
        {"currency_code": "USD", "orders": 1, "units": 2, "revenue": "40.00"}
    ]
    assert report["canceled_orders"] == 1
    assert [s["group"] for s in report["series"]] == ["MUG-BLUE"]


async def test_a_replacement_order_is_not_a_sale() -> None:
    store = Store()
    sold = snapshot(purchased=NOW, quantity=2)
    replacement = snapshot(purchased=NOW, quantity=2, replaces=sold.amazon_order_id)
    await _consume(
        store, *((orders.ORDER_CREATED, o, 1, topics.ORDERS) for o in (sold, replacement))
    )
    for group_by in ("none", "sku"):
        report = await queries.sales(
            FakeUnitOfWork(store),
            seller_id=SELLER,
            start=NOW.date(),
            end=NOW.date(),
            granularity="day",
            group_by=group_by,
        )
        assert report["totals"] == [
            {"currency_code": "USD", "orders": 1, "units": 2, "revenue": "40.00"}
        ]
        assert report["replacement_orders"] == 1
    ads_report = await queries.ads_summary(
        FakeUnitOfWork(store),
        seller_id=SELLER,
        start=NOW.date(),
        end=NOW.date(),
        group_by="asin",
        threshold=Decimal("0.5"),
    )
    [item] = ads_report["items"]
    assert (item["total_orders"], item["total_sales"]) == (1, "40.00")


async def test_account_health_rates_the_counts_against_the_targets() -> None:
    store = Store()
    store.health[SELLER] = counts(mfn_odr=Ratio(2, 100))
    found = await queries.account_health(FakeUnitOfWork(store), seller_id=SELLER, as_of=NOW)
    odr = next(m for m in found.metrics if m.name == "order_defect_rate" and m.scope == "MFN")
    assert (odr.value, odr.status.value) == (Decimal("0.02"), "critical")
    assert found.amazon_reports == [] and set(found.amazon) == {None}


async def test_ads_summary_relates_ad_orders_to_all_orders_of_the_asin() -> None:
    store = Store()
    orders_of_asin = [snapshot(purchased=NOW) for _ in range(4)]
    row = AdPerformance(
        seller_id=SELLER,
        date=NOW.date(),
        campaign_id="c-1",
        asin="B0MUG00001",
        clicks=10,
        spend=usd("8.00"),
        attributed_orders=3,
        attributed_sales=usd("60.00"),
    )
    await _consume(
        store,
        *((orders.ORDER_CREATED, o, 1, topics.ORDERS) for o in orders_of_asin),
        (ads.AD_PERFORMANCE_REPORTED, row, 1, "a"),
    )
    summary = await queries.ads_summary(
        FakeUnitOfWork(store),
        seller_id=SELLER,
        start=NOW.date(),
        end=NOW.date(),
        group_by="asin",
        threshold=Decimal("0.5"),
    )
    [item] = summary["items"]
    assert (item["attributed_orders"], item["total_orders"]) == (3, 4)
    assert (item["ad_order_ratio"], item["too_dependent_on_ads"]) == ("0.7500", True)


async def test_alerts_are_paged_newest_first() -> None:
    store = Store()
    store.health[SELLER] = counts(mfn_odr=Ratio(2, 100))
    store.delivery[SELLER] = tracked(Ratio(80, 100))
    await alerting.evaluate(lambda: FakeUnitOfWork(store), now=NOW)
    first = await queries.alerts(
        FakeUnitOfWork(store), seller_id=SELLER, state=None, before_id=None, limit=1
    )
    rest = await queries.alerts(
        FakeUnitOfWork(store),
        seller_id=SELLER,
        state="active",
        before_id=first.items[0]["id"],
        limit=5,
    )
    assert first.more and not rest.more
    assert [a["id"] for a in first.items + rest.items] == [2, 1]
    none = await queries.alerts(
        FakeUnitOfWork(store), seller_id=OTHER, state=None, before_id=None, limit=5
    )
    assert none.items == [] and not none.more


# --- the alert job -------------------------------------------------------------------------


async def test_a_crossed_target_raises_an_alert_once_and_recovery_clears_it() -> None:
    store = Store()
    store.health[SELLER] = counts(mfn_odr=Ratio(2, 100))
    new_uow = Counting(store)
    raised = await alerting.evaluate(new_uow, now=NOW)
    assert [(a.metric, a.scope) for a in raised] == [("order_defect_rate", "MFN")]
    assert [e.type for e in store.events] == [analytics.ALERT_RAISED]
    assert store.events[0].aggregateversion == 2  # alert 1 raised
    assert await alerting.evaluate(new_uow, now=NOW) == []  # still crossed: no second alert

    store.health[SELLER] = counts(mfn_odr=Ratio(0, 100))
    cleared = await alerting.evaluate(new_uow, now=NOW + timedelta(hours=1))
    assert [a.cleared_at for a in cleared] == [NOW + timedelta(hours=1)]
    assert [e.type for e in store.events] == [analytics.ALERT_RAISED, analytics.ALERT_CLEARED]
    assert store.tables.alerts[0]["state"] == "cleared"
    assert sum(u.commits for u in new_uow.made) == 3  # one per seller evaluation


async def test_an_alert_raced_by_another_instance_is_dropped_not_published() -> None:
    store = Store(race_on_add=True)
    store.health[SELLER] = counts(mfn_odr=Ratio(2, 100))
    assert await alerting.evaluate(lambda: FakeUnitOfWork(store), now=NOW) == []
    assert store.published == [] and store.tables.alerts == []


async def test_the_alert_job_evaluates_only_sellers_whose_data_or_windows_changed() -> None:
    store = Store()  # events are recorded at EPOCH, long before NOW: no recheck finds them
    store.health[SELLER] = counts(mfn_odr=Ratio(2, 100))
    store.health_changes[SELLER] = NOW + timedelta(minutes=20)  # a row reaches a window's edge
    job = alerting.AlertJob(lambda: FakeUnitOfWork(store), recheck_seconds=300)
    assert await job.tick(NOW) is None  # a new job: every seller
    assert [e.type for e in store.events] == [analytics.ALERT_RAISED]

    await _consume(store, (orders.ORDER_CREATED, snapshot(purchased=NOW, seller=OTHER), 1, "o"))
    assert await job.tick(NOW + timedelta(seconds=5)) == [OTHER]  # new events
    assert await job.tick(NOW + timedelta(seconds=10)) == []
    assert await job.tick(NOW + timedelta(seconds=301)) == []  # nothing changed: nobody

    store.health[SELLER] = counts(mfn_odr=Ratio(0, 100))  # what the window holds at +20 min
    del store.health_changes[SELLER]  # and no row reaches an edge after that
    assert await job.tick(NOW + timedelta(minutes=19)) == []  # the edge not reached yet
    assert await job.tick(NOW + timedelta(minutes=20)) == [SELLER]  # time alone changed it
    assert [e.type for e in store.events] == [analytics.ALERT_RAISED, analytics.ALERT_CLEARED]
    assert await job.tick(NOW + timedelta(minutes=30)) == []  # no further edge: left alone


async def test_the_alert_job_recheck_finds_events_committed_late() -> None:
    store = Store()
    job = alerting.AlertJob(lambda: FakeUnitOfWork(store), recheck_seconds=300)
    assert await job.tick(NOW) is None
    await _consume(store, (orders.ORDER_CREATED, snapshot(purchased=NOW, seller=OTHER), 1, "o"))
    job.seen = 10**6  # as if a tick had read a newer id before this event was committed
    assert await job.tick(NOW + timedelta(seconds=5)) == []
    store.now = NOW  # the event's transaction began at NOW
    store.tables.events[-1]["recorded_at"] = NOW
    assert await job.tick(NOW + timedelta(seconds=300)) == [OTHER]


class Counting:
    """Makes units of work on ``store`` and keeps them (to count their commits)."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.made: list[FakeUnitOfWork] = []

    def __call__(self) -> FakeUnitOfWork:
        self.made.append(FakeUnitOfWork(self.store))
        return self.made[-1]


# --- event log, ops ------------------------------------------------------------------------


async def test_the_event_log_is_trimmed_in_batches_past_retention() -> None:
    store = Store(now=NOW - timedelta(days=40))
    for _ in range(3):
        await _consume(store, (orders.ORDER_CREATED, snapshot(purchased=NOW), 1, "o"))
    store.now = NOW
    await _consume(store, (orders.ORDER_CREATED, snapshot(purchased=NOW), 1, "o"))
    new_uow = Counting(store)
    assert await event_log.trim_once(new_uow, now=NOW, days=30, batch=2) == 3
    assert len(store.tables.events) == 1
    assert [u.commits for u in new_uow.made] == [1, 1]


async def test_the_overview_reports_lag_errors_instead_of_failing() -> None:
    store = Store()
    lag = FakeLag()
    lag.fail = True
    seen = await ops.overview(
        uow=FakeUnitOfWork(store),
        dead_letters=_NoDeadLetters(),
        lag=lag,
        groups={"analytics": "g"},
        peers=_NoPeers(),
    )
    assert seen["consumer_lag"] == {"error": "ConnectionError", "groups": []}
    assert seen["services"]["analytics"]["outbox_backlog"] == 0


class _NoDeadLetters:
    async def count_by_status(self) -> dict[str, int]:
        return {}


class _NoPeers:
    names: list[str] = []
    consumers: list[str] = []

    async def overview(self, name: str) -> dict[str, Any]:
        raise AssertionError(name)

    async def order(
        self, name: str, amazon_order_id: str, *, seller: str | None = None
    ) -> dict[str, Any] | None:
        return None

    async def dead_letters_of(self, name: str, subject: str) -> list[dict[str, Any]] | None:
        return None


# --- the trace -----------------------------------------------------------------------------


def _ports(ingest: Any, lag: FakeLag | None = None) -> TracePorts:
    return TracePorts(
        ingest=ingest,
        lag=lag or FakeLag(),
        group="g",
        orders_topic=topics.ORDERS,
        lag_threshold=100,
        peers=_NoPeers(),
    )


async def test_a_trace_shows_the_orders_events_to_its_seller() -> None:
    store = Store()
    order = snapshot(purchased=NOW)
    await _consume(store, (orders.ORDER_CREATED, order, 1, topics.ORDERS))
    ingest = FakeIngest(
        IngestView(
            order={"seller_id": SELLER, "version": 1, "order": {}, "events": []}, quarantine=[]
        )
    )
    ask = TraceRequest(order.amazon_order_id, SELLER, None, NOW)
    found = await trace(FakeUnitOfWork(store), ask, _ports(ingest))
    assert [e["type"] for e in found["events"]] == [orders.ORDER_CREATED]
    assert found["read_model"]["order"]["seller_id"] == SELLER
    assert ingest.asked == [(order.amazon_order_id, SELLER)]


async def test_a_trace_of_a_replacement_names_the_order_it_replaces() -> None:
    store = Store()
    original = snapshot(purchased=NOW)
    replacement = snapshot(purchased=NOW, replaces=original.amazon_order_id)
    await _consume(store, (orders.ORDER_CREATED, replacement, 1, topics.ORDERS))
    ask = TraceRequest(replacement.amazon_order_id, SELLER, None, NOW)
    found = await trace(FakeUnitOfWork(store), ask, _ports(FakeIngest()))
    held = found["read_model"]["order"]
    assert held["is_replacement_order"] is True
    assert held["replaced_order_id"] == original.amazon_order_id


async def test_another_sellers_order_reads_as_an_unknown_one() -> None:
    store = Store()
    order = snapshot(purchased=NOW, seller=OTHER)
    await _consume(store, (orders.ORDER_CREATED, order, 1, topics.ORDERS))
    for oid in (order.amazon_order_id, "111-9999999-9999999"):
        with pytest.raises(NotThisSellersOrder):
            await trace(
                FakeUnitOfWork(store), TraceRequest(oid, SELLER, None, NOW), _ports(FakeIngest())
            )


async def test_a_trace_tells_of_a_lagging_consumer_and_of_ingest_down() -> None:
    store = Store()
    lag = FakeLag({"g": [PartitionLag("g", topics.ORDERS, 0, committed=1, end=500)]})
    ask = TraceRequest("111-0000000-0000001", None, None, NOW)
    down = await trace(FakeUnitOfWork(store), ask, _ports(FakeIngest(Unreachable("down")), lag))
    assert down["ingest"] == {"reachable": False, "error": "down"}
    assert down["consumer_lag"]["total"] == 499


# --- Amazon's figures --------------------------------------------------------------------------


def _amazon(report_id: str, *markets: tuple[str, str]) -> AmazonAccountHealth:
    """A report with each (marketplace, ODR rate) given, the MFN ODR only."""
    return AmazonAccountHealth(
        seller_id=SELLER,
        report_id=report_id,
        reported_at=NOW,
        fetched_at=NOW,
        marketplaces=tuple(
            MarketplacePerformance(
                marketplace_id=market,
                account_status="NORMAL",
                metrics=(
                    AmazonMetric(
                        name="order_defect_rate",
                        scope="MFN",
                        report_field="orderDefectRate.mfn",
                        numerator=int(Decimal(rate) * 100),
                        denominator=100,
                        rate=Decimal(rate),
                    ),
                ),
            )
            for market, rate in markets
        ),
    )


async def test_amazons_reports_of_two_regions_are_both_beside_ours() -> None:
    store = Store()
    store.health[SELLER] = counts(mfn_odr=Ratio(2, 100))
    reported = performance.AMAZON_ACCOUNT_HEALTH_REPORTED
    na, eu, old_na = (
        _amazon("1", ("ATVPDKIKX0DER", "0.02")),
        _amazon("2", ("A1PA6795UKMFR9", "0.04")),
        _amazon("0", ("ATVPDKIKX0DER", "0.50")),
    )
    await _consume(
        store,
        (reported, na, 2, topics.ORDERS),
        (reported, eu, 3, topics.ORDERS),
        (reported, old_na, 1, topics.ORDERS),  # an older report arriving late changes nothing
    )
    found = await queries.account_health(FakeUnitOfWork(store), seller_id=SELLER, as_of=NOW)
    assert [r.marketplace_id for r in found.amazon_reports] == ["A1PA6795UKMFR9", "ATVPDKIKX0DER"]
    odr = found.amazon[0]
    assert odr is not None and (odr.numerator, odr.denominator) == (6, 200)
    assert (odr.value, odr.disagrees) == (Decimal("0.0300"), True)  # ours: 0.0200
    assert [r.value for r in odr.by_marketplace] == [Decimal("0.04"), Decimal("0.02")]
