"""Read-side use cases: sales, account health, the advertising summary and the alerts.

Each takes a unit of work, reads in its transaction (``uow.reads``, ``uow.alerts``) and hands
plain facts to the domain; the functions on ``Reads`` alone (``health_of``) run inside a unit of
work someone else opened (the alert job's).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from analytics.domain import amazon_figures, metrics
from analytics.domain.advice import AdFigures, recommend, too_dependent_on_ads
from analytics.domain.amazon_figures import AmazonFigure
from analytics.domain.model import Alert
from analytics.service_layer.repositories import Reads
from analytics.service_layer.unit_of_work import UnitOfWork

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

SKU_NOTES = [
    "group_by=sku answers a page of SKUs (items: each SKU and currency over the whole range, "
    "units sold descending, then orders, then SKU and currency; limit and cursor as every "
    "list), and the series of those SKUs alone; totals are the whole range's. An order counts "
    "once per SKU it holds.",
]


def money(amount: Decimal) -> str:
    """Money as a decimal string with two places (never a float)."""
    return str(amount.quantize(CENTS))


# The sales figures are read from the daily sales rollup the consumer keeps (docs/adr/0055):
# nothing here loads a period's orders.


@dataclass
class Tally:
    orders: int = 0
    units: int = 0
    revenue: Decimal = Decimal("0")

    def add(self, row: Any) -> None:
        self.orders += int(row.orders)
        self.units += int(row.units)
        self.revenue += row.revenue

    def plus(self, row: Any) -> Tally:
        self.add(row)
        return self

    def as_dict(self) -> dict[str, Any]:
        return {"orders": self.orders, "units": self.units, "revenue": money(self.revenue)}


def _group(row: Any, group_by: str) -> str | None:
    """The group of a row of the rollup's "order" kind (dim1 marketplace, dim2 channel)."""
    if group_by == "marketplace":
        return str(row.dim1 or "unknown")
    if group_by == "fulfillment_channel":
        return CHANNEL_NAMES.get(row.dim2 or "", "unknown")
    return None


@dataclass(frozen=True)
class SkuPage:
    """A page of sales by SKU: at most ``limit`` entries after the sort key ``after`` (units,
    orders, SKU, currency: ``adapters.daily_sales.SKU_ORDER``)."""

    limit: int
    after: tuple[int, int, str, str] | None = None


async def sales(
    uow: UnitOfWork,
    *,
    seller_id: str | None,
    start: date,
    end: date,
    granularity: str,
    group_by: str,
    page: SkuPage | None = None,
) -> dict[str, Any]:
    """The sales report; for ``group_by=sku`` one page of SKUs (``items``, ``more`` when
    entries follow) and the series of those SKUs alone (docs/adr/0060)."""
    async with uow:
        return await _sales(
            uow.reads, seller_id, start, end, granularity, group_by, page or SkuPage(limit=50)
        )


async def _sales(
    reads: Reads,
    seller_id: str | None,
    start: date,
    end: date,
    granularity: str,
    group_by: str,
    page: SkuPage,
) -> dict[str, Any]:
    period = "week" if granularity == "week" else "day"
    orders = await reads.daily_sales(seller_id, "order", start, end, period)
    series: dict[tuple[date, str | None, str], Tally] = defaultdict(Tally)
    totals: dict[str, Tally] = defaultdict(Tally)
    canceled = replacements = 0
    for row in orders:
        canceled += int(row.canceled)
        replacements += int(row.replacements)
        if row.orders:
            totals[row.currency_code].add(row)
            if group_by != "sku":
                series[(row.period, _group(row, group_by), row.currency_code)].add(row)
    items: list[dict[str, Any]] | None = None
    more = False
    if group_by == "sku":
        found = await reads.sku_page(seller_id, start, end, page.after, page.limit + 1)
        skus, more = found[: page.limit], len(found) > page.limit
        items = [
            {"sku": r.sku, "currency_code": r.currency_code, **Tally().plus(r).as_dict()}
            for r in skus
        ]
        listed = {(r.sku, r.currency_code) for r in skus}
        names = sorted({r.sku for r in skus})
        for row in (
            await reads.daily_sales(seller_id, "sku", start, end, period, names) if names else []
        ):
            if (row.dim1, row.currency_code) in listed:
                series[(row.period, row.dim1, row.currency_code)].add(row)
    return {
        "from": start,
        "to": end,
        "granularity": granularity,
        "group_by": group_by,
        "totals": [{"currency_code": c, **t.as_dict()} for c, t in sorted(totals.items())],
        "canceled_orders": canceled,
        "replacement_orders": replacements,
        "series": [
            {"period": p, "group": g, "currency_code": c, **t.as_dict()}
            for (p, g, c), t in sorted(series.items(), key=lambda kv: (kv[0][0], str(kv[0][1:])))
        ],
        "items": items,
        "more": more,
        "notes": SALES_NOTES + (SKU_NOTES if group_by == "sku" else []),
    }


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
    """Every metric of the seller at ``as_of``: the order-based ones from the health rollup's
    rows in their windows, the scans' from the shipments promised in theirs (shipped in the
    last ``HISTORY``); docs/adr/0059."""
    counts = await reads.health_counts(seller_id, as_of=as_of)
    delivery = await reads.delivery_counts(seller_id, as_of=as_of, since=as_of - HISTORY)
    return metrics.account_health(counts, delivery, as_of)


async def health_changes_next(reads: Reads, seller_id: str, as_of: datetime) -> datetime | None:
    """When time alone may next change what ``health_of`` answers (None: not until new
    events)."""
    return await reads.health_next_change(seller_id, as_of=as_of, since=as_of - HISTORY)


# --- advertising -----------------------------------------------------------------------------


@dataclass
class AdTally:
    attributed_orders: int = 0
    spend: Decimal = Decimal("0")
    attributed_sales: Decimal = Decimal("0")
    clicks: int = 0
    impressions: int = 0

    def add(self, other: Any) -> None:
        """Add the sums of some ad rows (PostgreSQL sums BIGINT columns as NUMERIC)."""
        self.attributed_orders += int(other.attributed_orders)
        self.spend += other.spend
        self.attributed_sales += other.attributed_sales
        self.clicks += int(other.clicks)
        self.impressions += int(other.impressions)


@dataclass
class AdBucket:
    """The ads and the orders of one group (an ASIN, or everything) in one currency."""

    ad: AdTally = field(default_factory=AdTally)
    orders: int = 0
    sales: Decimal = Decimal("0")


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
    by_asin = group_by == "asin"
    buckets = await _ad_buckets(reads, seller_id, start, end, by_asin)
    per_currency = await _ad_buckets(reads, seller_id, start, end, False) if by_asin else buckets
    ordered = sorted(buckets.items(), key=lambda kv: (kv[0][0] or "", kv[0][1]))
    return {
        "from": start,
        "to": end,
        "group_by": group_by,
        "threshold": str(threshold),
        "currency_codes": sorted(c for _, c in per_currency),
        "by_currency": [
            {"currency_code": c, **_ad_figures(_figures(b), b.ad)}
            for (_, c), b in sorted(per_currency.items(), key=lambda kv: kv[0][1])
        ],
        "items": [_ad_entry(g, c, b, threshold) for (g, c), b in ordered],
        "definitions": ADS_DEFINITIONS,
    }


async def _ad_buckets(
    reads: Reads, seller_id: str | None, start: date, end: date, by_asin: bool
) -> dict[tuple[str | None, str], AdBucket]:
    """Ads and orders by (ASIN or ``None``, currency); canceled and replacement orders left
    out. An order counts once per bucket (the rollup counts it once per ASIN and currency)."""
    kind = "asin" if by_asin else "items"
    buckets: dict[tuple[str | None, str], AdBucket] = defaultdict(AdBucket)
    for row in await reads.daily_sales(seller_id, kind, start, end, None):
        bucket = buckets[(row.dim1 if by_asin else None, row.currency_code)]
        bucket.orders += int(row.orders)
        bucket.sales += row.revenue
    ads = await reads.ad_totals(seller_id, start, end)
    sku_to_asin: dict[str, str] = {}
    # An ad row without its ASIN takes the one its SKU was sold under (the greatest, should
    # the SKU have been sold under several): only those SKUs are looked up.
    unmatched = sorted({r.seller_sku for r in ads if not r.asin and r.seller_sku})
    if by_asin and unmatched:
        for row in await reads.daily_sales(seller_id, "sku_asin", start, end, None, unmatched):
            sku_to_asin[row.dim1] = max(row.dim2, sku_to_asin.get(row.dim1, row.dim2))
    for row in ads:
        asin = row.asin or sku_to_asin.get(row.seller_sku) or f"sku:{row.seller_sku}"
        buckets[(asin if by_asin else None, row.currency_code)].ad.add(row)
    return buckets


def _figures(bucket: AdBucket) -> AdFigures:
    return AdFigures(
        attributed_orders=bucket.ad.attributed_orders,
        total_orders=bucket.orders,
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
