"""``/v1/alerts``: alerts raised when an account-health metric crossed its target."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from analytics.adapters.repository import AlertRepository
from analytics.entrypoints.api.deps import Sessions
from analytics.entrypoints.api.schemas import AlertPage
from shared.api.auth import VisibleSeller
from shared.api.pagination import Before, Cursor, Limit, encode_cursor, read_cursor

router = APIRouter(prefix="/v1/alerts", tags=["alerts"])


def _out(row: Any) -> dict[str, Any]:
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


@router.get("", response_model=AlertPage, summary="Alerts, newest first")
async def list_alerts(
    seller: VisibleSeller,
    sessions: Sessions,
    limit: Limit = 50,
    cursor: Cursor = None,
    state: Annotated[str | None, Query(pattern="^(active|cleared)$")] = None,
) -> dict[str, Any]:
    position = read_cursor(cursor, Before)
    before = position.before if position else None
    async with sessions() as session:
        rows = await AlertRepository(session).page(
            seller_id=seller, state=state, before_id=before, limit=limit + 1
        )
    items = [_out(r) for r in rows[:limit]]
    more = len(rows) > limit
    return {
        "items": items,
        "next_cursor": encode_cursor({"before": items[-1]["id"]}) if more else None,
    }
