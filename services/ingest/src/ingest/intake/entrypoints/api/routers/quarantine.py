"""``/v1/quarantine``: every input ingest refused, with its reasons. Nothing is dropped silently."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from ingest.intake.entrypoints.api.deps import UoW
from ingest.intake.entrypoints.api.schemas import FieldError, QuarantineOut
from ingest.intake.service_layer import queries
from shared import inputs
from shared.api.auth import VisibleSeller
from shared.api.pagination import Before, Cursor, Limit, Page, encode_cursor, read_cursor

router = APIRouter(prefix="/v1/quarantine", tags=["quarantine"])


@router.get("", response_model=Page[QuarantineOut], summary="Rejected input, newest first")
async def list_quarantine(
    seller: VisibleSeller,
    uow: UoW,
    limit: Limit = 50,
    cursor: Cursor = None,
    amazon_order_id: Annotated[inputs.OrderIdLookup | None, Query()] = None,
    source: Annotated[str | None, Query(pattern="^(api|batch|upload|sp-api)$")] = None,
) -> Page[QuarantineOut]:
    position = read_cursor(cursor, Before)
    before = position.before if position else None
    rows = await queries.quarantine_page(
        uow,
        seller_id=seller,
        amazon_order_id=amazon_order_id,
        source=source,
        before_id=before,
        limit=limit + 1,
    )
    items = [_out(r) for r in rows[:limit]]
    more = len(rows) > limit
    return Page(items=items, next_cursor=encode_cursor({"before": items[-1].id}) if more else None)


def _out(r: Any) -> QuarantineOut:
    return QuarantineOut(
        id=r.id,
        received_at=r.received_at,
        seller_id=r.seller_id,
        source=r.source,
        amazon_order_id=r.amazon_order_id,
        reasons=[FieldError(**x) for x in r.reasons],
        upload_id=str(r.upload_id) if r.upload_id else None,
        rows=r.row_numbers,
    )
