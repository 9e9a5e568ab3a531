"""``ads.v1``: daily ad performance rows (Amazon Ads sponsored-products report), from ingest.

``subject`` is ``<seller>:<date>:<campaign>:<asin or sku>``; a restated row (Amazon restates
conversions for up to 28 days) is published again with a higher ``aggregateversion``.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from shared import inputs
from shared.events.common import Id, Money

AD_PERFORMANCE_REPORTED = "ad_performance.reported"


class AdPerformance(BaseModel):
    model_config = ConfigDict(frozen=True)

    seller_id: inputs.SellerId
    date: inputs.Day
    marketplace_id: inputs.MarketplaceId | None = None
    campaign_id: Id
    campaign_name: inputs.CampaignName | None = None
    asin: inputs.Asin | None = None
    seller_sku: inputs.SellerSku | None = None
    impressions: inputs.Count64 = 0  # analytics: bigint
    clicks: inputs.Count64  # analytics: bigint
    spend: Money
    attributed_orders: inputs.Count32 = Field(description="purchases7d")  # analytics: integer
    attributed_units: inputs.Count32 = Field(default=0, description="unitsSoldClicks7d")
    attributed_sales: Money = Field(description="sales7d")


PAYLOADS: dict[str, type[BaseModel]] = {AD_PERFORMANCE_REPORTED: AdPerformance}
