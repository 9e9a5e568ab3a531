"""``ads.v1``: daily ad performance rows (Amazon Ads sponsored-products report), from ingest.

``subject`` is ``<seller>:<date>:<campaign>:<asin or sku>``; a restated row (Amazon restates
conversions for up to 28 days) is published again with a higher ``aggregateversion``.
"""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel, ConfigDict, Field

from shared.events.common import Money

AD_PERFORMANCE_REPORTED = "ad_performance.reported"


class AdPerformance(BaseModel):
    model_config = ConfigDict(frozen=True)

    seller_id: str
    date: date
    marketplace_id: str | None = None
    campaign_id: str
    campaign_name: str | None = None
    asin: str | None = None
    seller_sku: str | None = None
    impressions: int = Field(default=0, ge=0)
    clicks: int = Field(ge=0)
    spend: Money
    attributed_orders: int = Field(ge=0, description="purchases7d")
    attributed_units: int = Field(default=0, ge=0, description="unitsSoldClicks7d")
    attributed_sales: Money = Field(description="sales7d")


PAYLOADS: dict[str, type[BaseModel]] = {AD_PERFORMANCE_REPORTED: AdPerformance}
