"""Read-side use cases: sales, account health, the advertising summary and the alerts.

Each takes a unit of work, reads in its transaction (``uow.reads``, ``uow.alerts``) and hands
plain facts to the domain; the functions on ``Reads`` alone (``health_of``) run inside a unit of
work someone else opened (the alert job's).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from analytics.domain import amazon_figures, metrics
from analytics.domain.advice import AdFigures, recommend, too_dependent_on_ads
from analytics.domain.amazon_figures import AmazonFigure
from analytics.domain.metrics import CANCELED
from analytics.domain.model import Alert
from analytics.service_layer.repositories import Reads
from analytics.service_layer.unit_of_work import UnitOfWork
from shared import marketplaces

CHANNEL_NAMES = {"AFN": "FBA", "MFN": "FBM"}
CENTS = Decimal("0.01")
HISTORY = timedelta(days=120)  # enough for the longest window (60 days) plus ship-by slack

SALES_NOTES = [
    "Each order counts once, in the version last received (newer versions replace older ones).",
    "Periods and date filters use the purchase date on the calendar of the order's "
    "marketplace (its time zone; UTC for an unknown marketplace); weeks start on Monday (ISO).",
    "Canceled orders are excluded from orders, units and revenue; canceled_orders counts them.",
    "Replacement orders (sent free in place of another order) are not sales: they are excluded "
    "from orders, units and revenue; replacement_orders counts those not canceled.",
    "Revenue is the order total (item prices for group_by=sku), in its own currency: figures "
    "are never converted or added across currencies, so every row names its currency_code.",
    "Pending orders have no price yet: they count as orders and units with zero revenue, "
    "under their marketplace's currency.",
]


def money(amount: Decimal) -> str:
    """Money as a decimal string with two places (never a float)."""
    return str(amount.quantize(CENTS))


def day_range(start: date, end: date) -> tuple[datetime, datetime]:
    """UTC moments holding every marketplace's days ``start`` to ``end`` (both included)."""
    return (
        datetime.combine(start, time(), UTC) - marketplaces.DAY_SLACK,
        datetime.combine(end + timedelta(days=1), time(), UTC) + marketplaces.DAY_SLACK,
    )


def local_day(order: Any) -> date:
    """The day the order was purchased on its marketplace's calendar (UTC if unknown)."""
    return marketplaces.local_date(order.purchase_date, order.marketplace_id)


@dataclass(frozen=True)
class DayOrders:
    """The orders purchased on days ``start`` to ``end`` of their marketplaces' calendars."""

    orders: list[Any]
    canceled: set[str]  # canceled by their status or by fulfillment
    period: tuple[datetime, datetime]  # the UTC moments read (a superset of the days)

    @property
    def replacements(self) -> set[str]:
        """Replacement orders: sent free in place of another order, so not sales."""
        return {o.amazon_order_id for o in self.orders if o.is_replacement_order}

    @property
    def live(self) -> dict[str, Any]:
        """The sales: neither canceled nor replacements."""
        left_out = self.canceled | self.replacements
        return {o.amazon_order_id: o for o in self.orders if o.amazon_order_id not in left_out}

    async def live_items(self, reads: Reads, seller_id: str | None) -> list[Any]:
        live = self.live
        return [
            i
            for i in await reads.items_between(seller_id, *self.period)
            if i.amazon_order_id in live
        ]


async def orders_on_days(reads: Reads, seller_id: str | None, start: date, end: date) -> DayOrders:
    period = day_range(start, end)
    rows = [
        r for r in await reads.orders_between(seller_id, *period) if start <= local_day(r) <= end
    ]
    ids = {r.amazon_order_id for r in rows}
    canceled = (await reads.canceled_between(seller_id, *period) & ids) | {
        r.amazon_order_id for r in rows if r.order_status == CANCELED
    }
    return DayOrders(rows, canceled, period)


# --- sales -----------------------------------------------------------------------------------


@dataclass
class Tally:
    orders: set[str]
    units: int = 0
    revenue: Decimal = Decimal("0")

    def as_dict(self) -> dict[str, Any]:
        return {"orders": len(self.orders), "units": self.units, "revenue": money(self.revenue)}


def _period(order: Any, granularity: str) -> date:
    day = local_day(order)
    return day - timedelta(days=day.weekday()) if granularity == "week" else day


def _group(order: Any, group_by: str) -> str | None:
    if group_by == "marketplace":
        return str(order.marketplace_id or "unknown")
    if group_by == "fulfillment_channel":
        return CHANNEL_NAMES.get(order.fulfillment_channel or "", "unknown")
    return None


async def sales(
    uow: UnitOfWork,
    *,
    seller_id: str | None,
    start: date,
    end: date,
    granularity: str,
    group_by: str,
) -> dict[str, Any]:
    async with uow:
        return await _sales(uow.reads, seller_id, start, end, granularity, group_by)


async def _sales(
    reads: Reads,
    seller_id: str | None,
    start: date,
    end: date,
    granularity: str,
    group_by: str,
) -> dict[str, Any]:
    days = await orders_on_days(reads, seller_id, start, end)
    by_id = days.live
    items = await days.live_items(reads, seller_id) if group_by == "sku" else []
    series: dict[tuple[date, str | None, str], Tally] = defaultdict(lambda: Tally(set()))
    totals: dict[str, Tally] = defaultdict(lambda: Tally(set()))
    for order in by_id.values():
        currency = _order_currency(order)
        _add(totals[currency], order.amazon_order_id, order.units, order.order_total)
        if group_by != "sku":
            key = (_period(order, granularity), _group(order, group_by), currency)
            _add(series[key], order.amazon_order_id, order.units, order.order_total)
    for item in items:
        order = by_id[item.amazon_order_id]
        currency = item.currency_code or _order_currency(order)
        key = (_period(order, granularity), item.seller_sku or item.asin, currency)
        _add(series[key], order.amazon_order_id, item.quantity, item.item_price)
    return {
        "from": start,
        "to": end,
        "granularity": granularity,
        "group_by": group_by,
        "totals": [{"currency_code": c, **t.as_dict()} for c, t in sorted(totals.items())],
        "canceled_orders": len(days.canceled),
        "replacement_orders": len(days.replacements - days.canceled),
        "series": [
            {"period": p, "group": g, "currency_code": c, **t.as_dict()}
            for (p, g, c), t in sorted(series.items(), key=lambda kv: (kv[0][0], str(kv[0][1:])))
        ],
        "notes": SALES_NOTES,
    }


def _order_currency(order: Any) -> str:
    """The order's currency, else its marketplace's (a pending order has no total yet)."""
    return str(order.currency_code or marketplaces.currency_of(order.marketplace_id) or "n/a")


def _add(tally: Tally, order_id: str, units: int, amount: Decimal | None) -> None:
    tally.orders.add(order_id)
    tally.units += units
    tally.revenue += amount or Decimal("0")


# --- account health --------------------------------------------------------------------------


@dataclass(frozen=True)
class AccountHealth:
    """Orderflow's metrics and, beside each, Amazon's figure (None: Amazon's report does not
    carry it, or no report was received); ``amazon_reports``: the newest report of each
    marketplace."""

    metrics: list[metrics.Metric]
    amazon: list[AmazonFigure | None]
    amazon_reports: list[Any]


async def account_health(uow: UnitOfWork, *, seller_id: str, as_of: datetime) -> AccountHealth:
    async with uow:
        found = await health_of(uow.reads, seller_id, as_of)
        reports = await uow.reads.amazon_health(seller_id)
    reported = amazon_figures.reported_by_metric(
        [{"marketplace_id": r.marketplace_id, "metrics": r.metrics} for r in reports]
    )
    return AccountHealth(
        metrics=found,
        amazon=[
            amazon_figures.seller_figure(reported.get((m.name, m.scope), []), m.value)
            for m in found
        ],
        amazon_reports=reports,
    )


async def health_of(reads: Reads, seller_id: str, as_of: datetime) -> list[metrics.Metric]:
    """Every metric of the seller at ``as_of``, counted over the last ``HISTORY`` of its rows."""
    since = as_of - HISTORY
    counts = await reads.health_counts(seller_id, as_of=as_of, since=since)
    delivery = await reads.delivery_counts(seller_id, as_of=as_of, since=since)
    return metrics.account_health(counts, delivery, as_of)


# --- advertising -----------------------------------------------------------------------------


@dataclass
class AdTally:
    attributed_orders: int = 0
    spend: Decimal = Decimal("0")
    attributed_sales: Decimal = Decimal("0")
    clicks: int = 0
    impressions: int = 0

    def add(self, other: Any) -> None:
        self.attributed_orders += other.attributed_orders
        self.spend += other.spend
        self.attributed_sales += other.attributed_sales
        self.clicks += other.clicks
        self.impressions += other.impressions


@dataclass
class AdBucket:
    """The ads and the orders of one group (an ASIN, or everything) in one currency."""

    ad: AdTally = field(default_factory=AdTally)
    orders: set[str] = field(default_factory=set)
    sales: Decimal = Decimal("0")

    def merge(self, other: AdBucket) -> None:
        self.ad.add(other.ad)
        self.orders |= other.orders
        self.sales += other.sales


# Money and its ratios are kept per currency, never converted or added (docs/adr/0049).
ADS_DEFINITIONS = {
    "currency": "every money figure and ratio is computed within one currency_code (the ad "
    "row's, the order's or else its marketplace's): currencies are never added or converted",
    "ad_order_ratio": "ad-attributed orders (purchases7d) / all orders of the ASIN "
    "purchased in the period (orders.v1 items; canceled and replacement orders excluded)",
    "acos": "ad spend / ad-attributed sales (sales7d)",
    "tacos": "ad spend / total sales of the ASIN (item prices of its orders; replacement "
    "orders, which carry no revenue of their own, excluded)",
}


async def ads_summary(
    uow: UnitOfWork,
    *,
    seller_id: str | None,
    start: date,
    end: date,
    group_by: str,
    threshold: Decimal,
) -> dict[str, Any]:
    async with uow:
        return await _ads_summary(uow.reads, seller_id, start, end, group_by, threshold)


async def _ads_summary(
    reads: Reads,
    seller_id: str | None,
    start: date,
    end: date,
    group_by: str,
    threshold: Decimal,
) -> dict[str, Any]:
    buckets = await _ad_buckets(reads, seller_id, start, end, group_by == "asin")
    per_currency: dict[str, AdBucket] = defaultdict(AdBucket)
    for (_, currency), bucket in buckets.items():
        per_currency[currency].merge(bucket)
    ordered = sorted(buckets.items(), key=lambda kv: (kv[0][0] or "", kv[0][1]))
    return {
        "from": start,
        "to": end,
        "group_by": group_by,
        "threshold": str(threshold),
        "currency_codes": sorted(per_currency),
        "by_currency": [
            {"currency_code": c, **_ad_figures(_figures(b), b.ad)}
            for c, b in sorted(per_currency.items())
        ],
        "items": [_ad_entry(g, c, b, threshold) for (g, c), b in ordered],
        "definitions": ADS_DEFINITIONS,
    }


async def _ad_buckets(
    reads: Reads, seller_id: str | None, start: date, end: date, by_asin: bool
) -> dict[tuple[str | None, str], AdBucket]:
    """Ads and orders by (ASIN or ``None``, currency); canceled orders left out."""
    days = await orders_on_days(reads, seller_id, start, end)
    by_id = days.live
    items = await days.live_items(reads, seller_id)
    sku_to_asin = {i.seller_sku: i.asin for i in items if i.seller_sku}
    buckets: dict[tuple[str | None, str], AdBucket] = defaultdict(AdBucket)
    for item in items:
        bucket = buckets[(item.asin if by_asin else None, _currency_of(item, by_id))]
        bucket.orders.add(item.amazon_order_id)
        bucket.sales += item.item_price or Decimal("0")
    for row in await reads.ad_rows(seller_id, start, end):
        asin = row.asin or sku_to_asin.get(row.seller_sku) or f"sku:{row.seller_sku}"
        buckets[(asin if by_asin else None, row.currency_code)].ad.add(row)
    return buckets


def _currency_of(item: Any, orders: dict[str, Any]) -> str:
    """An item's currency: its price's, its order's, else its marketplace's (a pending order
    has no price yet but is sold in its marketplace's currency)."""
    order = orders.get(item.amazon_order_id)
    return str(item.currency_code or (_order_currency(order) if order else "n/a"))


def _figures(bucket: AdBucket) -> AdFigures:
    return AdFigures(
        attributed_orders=bucket.ad.attributed_orders,
        total_orders=len(bucket.orders),
        spend=bucket.ad.spend,
        attributed_sales=bucket.ad.attributed_sales,
        total_sales=bucket.sales,
    )


def _ad_figures(figures: AdFigures, ad: AdTally) -> dict[str, Any]:
    return {
        "attributed_orders": figures.attributed_orders,
        "total_orders": figures.total_orders,
        "organic_orders": figures.organic_orders,
        "impressions": ad.impressions,
        "clicks": ad.clicks,
        "spend": money(figures.spend),
        "attributed_sales": money(figures.attributed_sales),
        "total_sales": money(figures.total_sales),
        "ad_order_ratio": _text(figures.ad_order_ratio),
        "acos": _text(figures.acos),
        "tacos": _text(figures.tacos),
    }


def _ad_entry(
    group: str | None, currency: str, bucket: AdBucket, threshold: Decimal
) -> dict[str, Any]:
    figures = _figures(bucket)
    return {
        "asin": group,
        "currency_code": currency,
        **_ad_figures(figures, bucket.ad),
        "too_dependent_on_ads": too_dependent_on_ads(figures, threshold),
        "recommendations": [r.as_dict() for r in recommend(figures, threshold)],
    }


def _text(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


# --- alerts ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class AlertPage:
    items: list[dict[str, Any]]
    more: bool  # alerts older than the last item exist


async def alerts(
    uow: UnitOfWork,
    *,
    seller_id: str | None,
    state: str | None,
    before_id: int | None,
    limit: int,
) -> AlertPage:
    """The alerts, newest first, older than ``before_id`` (when given), at most ``limit``."""
    async with uow:
        rows = await uow.alerts.page(
            seller_id=seller_id, state=state, before_id=before_id, limit=limit + 1
        )
    return AlertPage([_alert(r) for r in rows[:limit]], more=len(rows) > limit)


def _alert(row: Alert) -> dict[str, Any]:
    return {
        "id": row.id,
        "seller_id": row.seller_id,
        "metric": row.metric,
        "scope": row.scope,
        "state": row.state,
        "status": row.status,
        "value": None if row.value is None else str(row.value),
        "numerator": row.numerator,
        "denominator": row.denominator,
        "threshold": str(row.threshold),
        "message": row.message,
        "raised_at": row.raised_at,
        "cleared_at": row.cleared_at,
    }


# --- ops -------------------------------------------------------------------------------------


async def outbox_backlog(uow: UnitOfWork) -> int:
    """Events of this service not yet sent to Kafka."""
    async with uow:
        return await uow.reads.outbox_backlog()
