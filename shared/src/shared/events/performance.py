"""``account_health.amazon_reported`` on ``orders.v1``: Amazon's own account-health figures.

Ingest reads each connected seller's ``GET_V2_SELLER_PERFORMANCE_REPORT`` (Reports API
2021-06-30; the document follows amzn/selling-partner-api-models
schemas/reports/accountHealthReport-2020-11-18.json) and announces the metrics Orderflow also
computes, per marketplace, with Amazon's counts, rate, status, target and reporting range.
``subject`` is the seller id; ``aggregateversion`` is ingest's number of the stored report,
which only grows per seller, so a consumer keeps the newest report. Not an order snapshot:
consumers of order snapshots ignore it (an additive type on orders.v1).
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from shared import inputs
from shared.events.common import DecimalStr, Id, Label

AMAZON_ACCOUNT_HEALTH_REPORTED = "account_health.amazon_reported"


class AmazonMetric(BaseModel):
    """One metric as Amazon reported it, named as Orderflow names it."""

    model_config = ConfigDict(frozen=True)

    name: Label = Field(description="Orderflow's metric, e.g. order_defect_rate")
    scope: Label = Field(description="Orderflow's scope: MFN, AFN, or a window such as 30d")
    report_field: Label = Field(description="Amazon's field, e.g. orderDefectRate.mfn")
    numerator: inputs.Count32 | None = None
    denominator: inputs.Count32 | None = None
    rate: DecimalStr | None = Field(default=None, description="as Amazon wrote it, a fraction")
    status: Label | None = Field(default=None, description="Amazon's GOOD, BAD or NONE")
    target_value: DecimalStr | None = None
    target_condition: Label | None = Field(default=None, description="LESS_THAN, GREATER_THAN")
    reporting_date_from: inputs.Moment | None = None
    reporting_date_to: inputs.Moment | None = None


class MarketplacePerformance(BaseModel):
    model_config = ConfigDict(frozen=True)

    marketplace_id: inputs.MarketplaceId
    account_status: Label | None = Field(default=None, description="e.g. NORMAL, AT_RISK")
    metrics: tuple[AmazonMetric, ...] = Field(default=(), max_length=20)


class AmazonAccountHealth(BaseModel):
    model_config = ConfigDict(frozen=True)

    seller_id: inputs.SellerId
    report_id: Id = Field(description="Amazon's reportId")
    reported_at: inputs.Moment = Field(description="when Amazon finished the report")
    fetched_at: inputs.Moment
    marketplaces: tuple[MarketplacePerformance, ...] = Field(default=(), max_length=50)


PAYLOADS: dict[str, type[BaseModel]] = {AMAZON_ACCOUNT_HEALTH_REPORTED: AmazonAccountHealth}
