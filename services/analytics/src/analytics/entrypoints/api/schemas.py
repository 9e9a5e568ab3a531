"""Response bodies of analytics' API (money and rates are decimal strings, never floats)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class _Out(BaseModel):
    model_config = ConfigDict(populate_by_name=True)


class SalesFigures(_Out):
    orders: int
    units: int
    revenue: str = Field(description="decimal string, in currency_code")


class SalesTotal(SalesFigures):
    currency_code: str


class SalesPoint(SalesTotal):
    period: date = Field(description="the day, or the Monday of the ISO week")
    group: str | None = Field(description="marketplace, FBA/FBM or SKU; null for group_by=none")


class SalesSku(SalesFigures):
    sku: str = Field(description="the seller SKU (the ASIN for items sold without one)")
    currency_code: str


class SalesOut(_Out):
    seller_id: str | None
    from_: date = Field(alias="from")
    to: date
    granularity: str
    group_by: str
    totals: list[SalesTotal]
    canceled_orders: int = Field(description="excluded from orders, units and revenue")
    replacement_orders: int = Field(
        default=0,
        description="replacement orders (not canceled): not sales, so excluded from orders, "
        "units and revenue",
    )
    series: list[SalesPoint] = Field(
        description="for group_by=sku, the series of the SKUs in items alone"
    )
    items: list[SalesSku] | None = Field(
        default=None,
        description="group_by=sku: one page of SKUs over the whole range, units sold "
        "descending (then orders, SKU, currency); null for the other groupings",
    )
    next_cursor: str | None = Field(
        default=None, description="group_by=sku: the cursor of the next page (null: last page)"
    )
    notes: list[str]


class WindowOut(_Out):
    days: int
    from_: datetime = Field(alias="from")
    to: datetime
    by: str = Field(description="the date the window applies to")


class TargetOut(_Out):
    threshold: str
    direction: str = Field(description="below: value < threshold; at_least: value >= threshold")
    bands: dict[str, str] = Field(description="the values each status covers")


class AmazonMarketplaceFigureOut(_Out):
    marketplace_id: str
    value: str | None = Field(description="Amazon's rate as it wrote it")
    numerator: int | None
    denominator: int | None
    status: str | None = Field(description="Amazon's GOOD, BAD or NONE")
    reporting_date_from: datetime | None
    reporting_date_to: datetime | None


class AmazonFigureOut(_Out):
    value: str | None = Field(
        description="Amazon's rate for the seller: its own with one marketplace, the summed "
        "counts' ratio with several"
    )
    numerator: int | None
    denominator: int | None
    disagrees: bool | None = Field(
        description="true when no rate rounds to both figures (see status_rule.amazon); null "
        "when either figure is missing"
    )
    difference: str | None = Field(description="Amazon's value minus Orderflow's")
    by_marketplace: list[AmazonMarketplaceFigureOut]


class AmazonReportOut(_Out):
    marketplace_id: str
    report_id: str
    reported_at: datetime
    fetched_at: datetime
    account_status: str | None = Field(description="Amazon's, e.g. NORMAL, AT_RISK")


class MetricOut(_Out):
    name: str
    scope: str
    value: str | None = Field(description="numerator / denominator, 4 decimal places")
    numerator: int
    denominator: int
    window: WindowOut
    target: TargetOut
    status: str = Field(description="good, at_risk, critical or insufficient_data")
    breakdown: dict[str, int]
    definition: str
    note: str | None
    amazon: AmazonFigureOut | None = Field(
        description="Amazon's own figure (its seller performance report); null when no report "
        "was received or it does not carry this metric"
    )


class AccountHealthOut(_Out):
    seller_id: str
    as_of: datetime
    status_rule: dict[str, str]
    metrics: list[MetricOut]
    amazon_reports: list[AmazonReportOut] = Field(
        description="per marketplace, the newest seller performance report received from Amazon "
        "(empty: none)"
    )


class AlertOut(_Out):
    id: int
    seller_id: str
    metric: str
    scope: str
    state: str = Field(description="active or cleared")
    status: str = Field(description="at_risk or critical when raised")
    value: str | None
    numerator: int
    denominator: int
    threshold: str
    message: str
    raised_at: datetime
    cleared_at: datetime | None


class AlertPage(_Out):
    items: list[AlertOut]
    next_cursor: str | None


class RecommendationOut(_Out):
    code: str
    title: str
    detail: str
    evidence: dict[str, Any] = Field(description="the numbers that triggered it")


class AdFiguresOut(_Out):
    """Ad figures within one currency (money as decimal strings in currency_code)."""

    currency_code: str
    attributed_orders: int
    total_orders: int
    organic_orders: int
    impressions: int
    clicks: int
    spend: str
    attributed_sales: str
    total_sales: str
    ad_order_ratio: str | None
    acos: str | None = Field(description="spend / attributed_sales, both in currency_code")
    tacos: str | None = Field(description="spend / total_sales, both in currency_code")


class AdEntryOut(AdFiguresOut):
    """One ASIN (null for group_by=none) in one currency: an ASIN sold in two currencies has
    two entries."""

    asin: str | None
    too_dependent_on_ads: bool
    recommendations: list[RecommendationOut]


class AdsSummaryOut(_Out):
    seller_id: str | None
    from_: date = Field(alias="from")
    to: date
    group_by: str
    threshold: str
    currency_codes: list[str]
    by_currency: list[AdFiguresOut] = Field(
        description="the seller's totals and ratios per currency (never added across them)"
    )
    items: list[AdEntryOut]
    definitions: dict[str, str]


class FindingOut(_Out):
    code: str = Field(
        description="never_received, rejected_as_bad_input, amazon_not_connected, "
        "amazon_connection_paused, amazon_auth_failing, amazon_throttled, amazon_sync_failing, "
        "amazon_first_sync, amazon_sync_behind, pending_hidden, older_than_default_view, "
        "other_seller_or_marketplace, stuck_in_dead_letter_queue or consumer_lagging"
    )
    message: str = Field(description="what happened, and the fix")
    details: dict[str, Any]


class AmazonConnectionOut(_Out):
    id: str
    selling_partner_id: str
    region: str
    marketplace_ids: list[str]
    status: str = Field(description="active or paused")
    health: str = Field(
        description="ok, paused, auth_failing, throttled, failing, never_synced or behind"
    )
    behind_seconds: int = Field(description="orders updated since then are not read yet")
    last_sync_at: datetime | None = Field(description="the last successful sync")
    last_error: str | None = Field(description="the last failed sync's error, as ingest got it")


class TraceConnectionOut(_Out):
    """The seller's Amazon connections reading the order's marketplace (every connection of
    the seller when the marketplace is not known)."""

    reachable: bool = Field(description="false: ingest did not answer (see error)")
    error: str | None = None
    marketplace_id: str | None = None
    connections: list[AmazonConnectionOut] = Field(default_factory=list)


class TraceOut(_Out):
    """The timeline and diagnosis (another seller's order answers 404 instead)."""

    model_config = ConfigDict(extra="allow")

    amazon_order_id: str
    as_of: datetime
    connection: TraceConnectionOut | None = Field(
        default=None, description="null: the order's seller is not known (an ops key alone)"
    )
    diagnosis: list[FindingOut]
