"""``/v1/amazon/shipment-confirmations``: shipments pushed back to Amazon (confirmShipment).

Operators (ops keys) see every seller's, a seller its own; a failed one can be sent again by
an operator or its seller (``POST .../{id}/retry``). A foreign seller's confirmation is 404.
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import AwareDatetime

from ingest.amazon.domain import commands
from ingest.amazon.domain.confirmations import Status
from ingest.amazon.entrypoints.api.deps import UoW
from ingest.amazon.service_layer import handlers, queries
from ingest.intake.entrypoints.api.schemas import ConfirmationOut, confirmation_out
from shared import inputs
from shared.api.auth import VisibleSeller
from shared.api.pagination import Cursor, Limit, Page, Position, encode_cursor, read_cursor

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
    amazon_order_id: Annotated[inputs.OrderIdLookup | None, Query()] = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> Page[ConfirmationOut]:
    position = read_cursor(cursor, After)
    after = (position.at, position.id) if position else None
    rows = await queries.confirmations_page(
        uow,
        seller_id=seller,
        status=status,
        amazon_order_id=amazon_order_id,
        after=after,
        limit=limit + 1,
    )
    items = [confirmation_out(r) for r in rows[:limit]]
    last = rows[limit - 1] if len(rows) > limit else None
    next_cursor = encode_cursor(After(at=last.created_at, id=last.id)) if last else None
    return Page(items=items, next_cursor=next_cursor)


class After(Position):
    """The last confirmation of a page: its creation time and id."""

    at: AwareDatetime
    id: uuid.UUID


@router.get("/{confirmation_id}", response_model=ConfirmationOut, summary="One confirmation")
async def get_confirmation(
    confirmation_id: uuid.UUID, seller: VisibleSeller, uow: UoW
) -> ConfirmationOut:
    row = await queries.confirmation(uow, confirmation_id=confirmation_id, seller_id=seller)
    return confirmation_out(row)


@router.post(
    "/{confirmation_id}/retry",
    response_model=ConfirmationOut,
    summary="Send a failed confirmation to Amazon again (409 unless failed)",
)
async def retry(confirmation_id: uuid.UUID, seller: VisibleSeller, uow: UoW) -> ConfirmationOut:
    command = commands.RetryConfirmation(confirmation_id=confirmation_id, seller_id=seller)
    async with uow:
        row = await handlers.retry_confirmation(uow, command=command)
        await uow.commit()
    return confirmation_out(row)
