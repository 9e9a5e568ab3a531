"""``/v1/ads/summary``: ad-order ratio, ACoS and TACoS per ASIN and currency, with advice."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query

from analytics.entrypoints.api.deps import Deps, Uow
from analytics.entrypoints.api.routers.sales import FROM_DAY, TO_DAY, check_range
from analytics.entrypoints.api.schemas import AdsSummaryOut
from analytics.service_layer import queries
from shared import inputs
from shared.api.auth import VisibleSeller

router = APIRouter(prefix="/v1/ads", tags=["advertising"])


@router.get(
    "/summary",
    response_model=AdsSummaryOut,
    summary="Ad-order ratio, ACoS, TACoS and recommendations, per currency",
)
async def get_summary(
    seller: VisibleSeller,
    deps: Deps,
    uow: Uow,
    start: Annotated[inputs.Day, Query(alias="from", description=FROM_DAY)],
    end: Annotated[inputs.Day, Query(alias="to", description=TO_DAY)],
    group_by: Literal["asin", "none"] = "asin",
) -> dict[str, Any]:
    check_range(start, end)
    summary = await queries.ads_summary(
        uow,
        seller_id=seller,
        start=start,
        end=end,
        group_by=group_by,
        threshold=deps.settings.ad_order_ratio_threshold,
    )
    return {"seller_id": seller, **summary}
