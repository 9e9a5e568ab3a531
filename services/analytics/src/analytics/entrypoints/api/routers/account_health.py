"""``/v1/account-health``: Amazon's seller metrics from our own events, against their targets,
each beside Amazon's own figure (its seller performance report)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from analytics.domain import metrics
from analytics.domain.amazon_figures import AmazonFigure
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
    "amazon": "Amazon's figure from its seller performance report, beside ours; disagrees is "
    "true when the two differ by more than their rounding: a figure written with n decimals "
    "stands for every rate within half a unit of its n-th place (ours, 4 places: 0.00005), so "
    "they disagree when they are further apart than those two half units together. Amazon's "
    "reporting range is its own (shown per marketplace), not our window",
}


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def amazon_out(figure: AmazonFigure | None) -> dict[str, Any] | None:
    if figure is None:
        return None
    return {
        "value": _text(figure.value),
        "numerator": figure.numerator,
        "denominator": figure.denominator,
        "disagrees": figure.disagrees,
        "difference": _text(figure.difference),
        "by_marketplace": [
            {
                "marketplace_id": r.marketplace_id,
                "value": _text(r.value),
                "numerator": r.numerator,
                "denominator": r.denominator,
                "status": r.status,
                "reporting_date_from": r.reporting_from,
                "reporting_date_to": r.reporting_to,
            }
            for r in figure.by_marketplace
        ],
    }


def report_out(row: Any) -> dict[str, Any]:
    return {
        "marketplace_id": row.marketplace_id,
        "report_id": row.report_id,
        "reported_at": row.reported_at,
        "fetched_at": row.fetched_at,
        "account_status": row.account_status,
    }


def metric_out(m: metrics.Metric, amazon: AmazonFigure | None = None) -> dict[str, Any]:
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
        "amazon": amazon_out(amazon),
    }


@router.get(
    "",
    response_model=AccountHealthOut,
    summary="ODR, late shipment, cancel, valid-tracking and on-time delivery rates, with "
    "status, each beside Amazon's own figure",
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
        "metrics": [metric_out(m, a) for m, a in zip(found.metrics, found.amazon, strict=True)],
        "amazon_reports": [report_out(r) for r in found.amazon_reports],
    }
