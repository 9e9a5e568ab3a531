"""``/v1/alerts``: alerts raised when an account-health metric crossed its target."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from analytics.entrypoints.api.deps import Uow
from analytics.entrypoints.api.schemas import AlertPage
from analytics.service_layer import queries
from shared.api.auth import VisibleSeller
from shared.api.pagination import Before, Cursor, Limit, encode_cursor, read_cursor

router = APIRouter(prefix="/v1/alerts", tags=["alerts"])


@router.get("", response_model=AlertPage, summary="Alerts, newest first")
async def list_alerts(
    seller: VisibleSeller,
    uow: Uow,
    limit: Limit = 50,
    cursor: Cursor = None,
    state: Annotated[str | None, Query(pattern="^(active|cleared)$")] = None,
) -> dict[str, Any]:
    position = read_cursor(cursor, Before)
    before = position.before if position else None
    page = await queries.alerts(uow, seller_id=seller, state=state, before_id=before, limit=limit)
    last = page.items[-1]["id"] if page.items else None
    return {
        "items": page.items,
        "next_cursor": encode_cursor({"before": last}) if page.more else None,
    }
