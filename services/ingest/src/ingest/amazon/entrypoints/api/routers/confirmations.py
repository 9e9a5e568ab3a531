"""``/v1/amazon/shipment-confirmations``: shipments pushed back to Amazon (confirmShipment).

Operators (ops keys) see every seller's, a seller its own; a failed one can be sent again by
an operator or its seller (``POST .../{id}/retry``). A foreign seller's confirmation is 404.
The ``shipment_confirmation`` view of ``/v1/amazon/submissions``: the same route bodies.
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query

from ingest.amazon.domain.confirmations import Status
from ingest.amazon.domain.submissions import Kind
from ingest.amazon.entrypoints.api.deps import UoW
from ingest.amazon.entrypoints.api.routers.submissions import one_of, page_of, retry_of
from ingest.intake.entrypoints.api.schemas import ConfirmationOut, confirmation_out
from shared import inputs
from shared.api.auth import VisibleSeller
from shared.api.pagination import Cursor, Limit, Page

router = APIRouter(prefix="/v1/amazon/shipment-confirmations", tags=["amazon"])

KIND = Kind.SHIPMENT_CONFIRMATION


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
    return await page_of(
        uow,
        seller,
        kind=KIND,
        status=status,
        amazon_order_id=amazon_order_id,
        limit=limit,
        cursor=cursor,
        out=confirmation_out,
    )


@router.get("/{confirmation_id}", response_model=ConfirmationOut, summary="One confirmation")
async def get_confirmation(
    confirmation_id: uuid.UUID, seller: VisibleSeller, uow: UoW
) -> ConfirmationOut:
    return await one_of(uow, confirmation_id, seller, kind=KIND, out=confirmation_out)


@router.post(
    "/{confirmation_id}/retry",
    response_model=ConfirmationOut,
    summary="Send a failed confirmation to Amazon again (409 unless failed)",
)
async def retry(confirmation_id: uuid.UUID, seller: VisibleSeller, uow: UoW) -> ConfirmationOut:
    return await retry_of(uow, confirmation_id, seller, kind=KIND, out=confirmation_out)
