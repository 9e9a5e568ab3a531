"""``/v1/account-health``: Amazon's seller metrics from our own events, against their targets."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from analytics.domain import metrics
from analytics.entrypoints.api.deps import Deps, OneSeller, Uow
from analytics.entrypoints.api.schemas import AccountHealthOut
from analytics.service_layer import queries
from shared import inputs

router = APIRouter(prefix="/v1/account-health", tags=["account health"])

STATUS_RULE = {
    "good": "the target is met",
    "at_risk": "the target is missed by less than 25% of the allowed failure "
    "(the threshold for 'below' targets, 1 - threshold for 'at_least' targets)",
    "critical": "the target is missed by 25% of the allowed failure or more",
    "insufficient_data": "nothing to measure in the window, or no data source",
    "windows": "closed intervals [as_of - days, as_of] on the date named by window.by",
}


def metric_out(m: metrics.Metric) -> dict[str, Any]:
    return {
        "name": m.name,
        "scope": m.scope,
        "value": None if m.value is None else str(m.value),
        "numerator": m.numerator,
        "denominator": m.denominator,
        "window": {
            "days": m.window.days,
            "from": m.window.start,
            "to": m.window.end,
            "by": m.window.by,
        },
        "target": {
            "threshold": str(m.target.threshold),
            "direction": m.target.direction.value,
            "bands": m.target.bands(),
        },
        "status": m.status.value,
        "breakdown": m.breakdown,
        "definition": m.definition,
        "note": m.note,
    }


@router.get(
    "",
    response_model=AccountHealthOut,
    summary="ODR, late shipment, cancel and valid-tracking rates, with status",
)
async def get_account_health(
    seller: OneSeller,
    deps: Deps,
    uow: Uow,
    as_of: Annotated[
        inputs.Moment | None, Query(description="end of every window (default now)")
    ] = None,
) -> dict[str, Any]:
    moment = as_of or deps.now()
    found = await queries.account_health(uow, seller_id=seller, as_of=moment)
    return {
        "seller_id": seller,
        "as_of": moment,
        "status_rule": STATUS_RULE,
        "metrics": [metric_out(m) for m in found],
    }
