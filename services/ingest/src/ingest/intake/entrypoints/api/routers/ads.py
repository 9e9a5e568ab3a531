"""``/v1/ads/performance``: daily sponsored-products rows (Amazon Ads report), to ``ads.v1``."""

from __future__ import annotations

from decimal import Decimal
from typing import Literal

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field, model_validator

from ingest.intake.domain import commands
from ingest.intake.entrypoints.api.deps import Settings, UoW
from ingest.intake.service_layer import handlers
from shared import inputs, topics
from shared.api.auth import ActingSeller
from shared.events.ads import AdPerformance
from shared.events.common import Money
from shared.logs import correlation_id

router = APIRouter(prefix="/v1/ads", tags=["ads"])

MAX_ROWS = 5000


class AdRowIn(BaseModel):
    """One day of one campaign for one ASIN or SKU, as the Ads API v3 report gives it. The
    counters are as wide as analytics' columns: impressions and clicks bigint, attributed
    orders and units integer."""

    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True, frozen=True)

    date: inputs.Day
    marketplace_id: inputs.MarketplaceId | None = None
    campaign_id: inputs.Identifier
    campaign_name: inputs.CampaignName | None = None
    asin: inputs.Asin | None = None
    seller_sku: inputs.SellerSku | None = None
    impressions: inputs.Count64 = 0
    clicks: inputs.Count64
    spend: inputs.Amount = Field(description='decimal string, e.g. "12.34"')
    attributed_orders: inputs.Count32 = Field(description="purchases7d")
    attributed_units: inputs.Count32 = Field(default=0, description="unitsSoldClicks7d")
    attributed_sales: inputs.Amount = Field(description='sales7d, decimal string, e.g. "99.90"')
    currency_code: inputs.CurrencyCode

    @model_validator(mode="after")
    def _asin_or_sku(self) -> AdRowIn:
        if not self.asin and not self.seller_sku:
            raise ValueError("asin or seller_sku is required")
        return self

    def to_event(self, seller_id: str) -> AdPerformance:
        def money(amount: Decimal) -> Money:
            return Money(amount=amount, currency_code=self.currency_code)

        return AdPerformance(
            seller_id=seller_id,
            date=self.date,
            marketplace_id=self.marketplace_id,
            campaign_id=self.campaign_id,
            campaign_name=self.campaign_name,
            asin=self.asin,
            seller_sku=self.seller_sku,
            impressions=self.impressions,
            clicks=self.clicks,
            spend=money(self.spend),
            attributed_orders=self.attributed_orders,
            attributed_units=self.attributed_units,
            attributed_sales=money(self.attributed_sales),
        )


class AdReportIn(BaseModel):
    rows: list[AdRowIn] = Field(min_length=1, max_length=MAX_ROWS)


class AdRowOut(BaseModel):
    index: int
    subject: str
    result: Literal["created", "restated", "unchanged"]
    version: int


class AdReportOut(BaseModel):
    accepted: int
    published: int
    results: list[AdRowOut]


@router.post(
    "/performance",
    response_model=AdReportOut,
    summary="Take daily ad performance rows; each is published on ads.v1",
)
async def post_performance(
    body: AdReportIn, seller: ActingSeller, uow: UoW, settings: Settings
) -> AdReportOut:
    command = commands.ReportAdRows(
        rows=[row.to_event(seller) for row in body.rows], correlation_id=correlation_id.get()
    )
    async with uow:
        outcomes = await handlers.report_ad_rows(
            uow, command=command, topic=settings.topic(topics.ADS)
        )
        await uow.commit()
    results = [
        AdRowOut(index=i, subject=o.subject, result=o.result, version=o.version)
        for i, o in enumerate(outcomes)
    ]
    published = sum(1 for r in results if r.result != "unchanged")
    return AdReportOut(accepted=len(results), published=published, results=results)
