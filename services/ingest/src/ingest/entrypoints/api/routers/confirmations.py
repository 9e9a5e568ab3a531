"""``/v1/amazon/shipment-confirmations``: shipments pushed back to Amazon (confirmShipment).

Operators (ops keys) see every seller's, a seller its own; a failed one can be sent again by
an operator or its seller (``POST .../{id}/retry``). A foreign seller's confirmation is 404.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query

from ingest.domain.confirmations import Status
from ingest.entrypoints.api.deps import UoW
from ingest.entrypoints.api.schemas import ConfirmationOut, confirmation_out
from ingest.service_layer import confirmations
from shared.api.auth import VisibleSeller
from shared.api.pagination import Cursor, Limit, Page, decode_cursor, encode_cursor
from shared.api.problems import Problem

router = APIRouter(prefix="/v1/amazon/shipment-confirmations", tags=["amazon"])


@router.get(
    "",
    response_model=Page[ConfirmationOut],
    summary="Shipment confirmations pushed to Amazon, oldest first",
)
async def list_confirmations(
    seller: VisibleSeller,
    uow: UoW,
    status: Annotated[Status | None, Query(description="pending, sent, failed or skipped")] = None,
    amazon_order_id: Annotated[str | None, Query(max_length=64)] = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> Page[ConfirmationOut]:
    after = _after(decode_cursor(cursor))
    async with uow:
        rows = await confirmations.page(
            uow,
            seller_id=seller,
            status=status,
            amazon_order_id=amazon_order_id,
            after=after,
            limit=limit + 1,
        )
    items = [confirmation_out(r) for r in rows[:limit]]
    last = rows[limit - 1] if len(rows) > limit else None
    next_cursor = (
        encode_cursor({"at": last.created_at.isoformat(), "id": str(last.id)}) if last else None
    )
    return Page(items=items, next_cursor=next_cursor)


def _after(position: dict[str, Any] | None) -> tuple[datetime, uuid.UUID] | None:
    if not position:
        return None
    try:
        return datetime.fromisoformat(position["at"]), uuid.UUID(position["id"])
    except (KeyError, TypeError, ValueError):
        raise Problem(400, "Invalid cursor") from None


@router.get("/{confirmation_id}", response_model=ConfirmationOut, summary="One confirmation")
async def get_confirmation(
    confirmation_id: uuid.UUID, seller: VisibleSeller, uow: UoW
) -> ConfirmationOut:
    async with uow:
        row = await confirmations.get(uow, confirmation_id, seller)
    return confirmation_out(row)


@router.post(
    "/{confirmation_id}/retry",
    response_model=ConfirmationOut,
    summary="Send a failed confirmation to Amazon again (409 unless failed)",
)
async def retry(confirmation_id: uuid.UUID, seller: VisibleSeller, uow: UoW) -> ConfirmationOut:
    async with uow:
        row = await confirmations.retry(uow, confirmation_id, seller)
    return confirmation_out(row)
