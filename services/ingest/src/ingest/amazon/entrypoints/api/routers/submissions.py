"""``/v1/amazon/submissions``: everything sent to Amazon, of every kind.

Shipment confirmations (confirmShipment), cancellations and adjustments (feed messages), with
their status and Amazon's message. Operators (ops keys) see every seller's, a seller its own;
a failed one can be sent again by an operator or its seller (``POST .../{id}/retry``). A
foreign seller's submission is 404. ``/v1/amazon/shipment-confirmations`` is the
shipment-confirmation view of the same rows.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from enum import StrEnum
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Query
from pydantic import AwareDatetime

from ingest.amazon.domain import commands
from ingest.amazon.domain.submissions import Kind, Status
from ingest.amazon.entrypoints.api.deps import UoW
from ingest.amazon.service_layer import handlers, queries
from ingest.intake.entrypoints.api.schemas import SubmissionOut, submission_out
from shared import inputs
from shared.api.auth import VisibleSeller
from shared.api.pagination import Cursor, Limit, Page, Position, encode_cursor, read_cursor

router = APIRouter(prefix="/v1/amazon/submissions", tags=["amazon"])

Out = TypeVar("Out")


class After(Position):
    """The last submission of a page: its creation time and id."""

    at: AwareDatetime
    id: uuid.UUID


@router.get(
    "",
    response_model=Page[SubmissionOut],
    summary="Everything sent (or to send) to Amazon, oldest first",
)
async def list_submissions(
    seller: VisibleSeller,
    uow: UoW,
    kind: Annotated[
        Kind | None, Query(description="shipment_confirmation, cancellation or adjustment")
    ] = None,
    status: Annotated[
        Status | None,
        Query(description="pending, submitted, sent, accepted, failed or skipped"),
    ] = None,
    amazon_order_id: Annotated[inputs.OrderIdLookup | None, Query()] = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> Page[SubmissionOut]:
    return await page_of(
        uow,
        seller,
        kind=kind,
        status=status,
        amazon_order_id=amazon_order_id,
        limit=limit,
        cursor=cursor,
        out=submission_out,
    )


@router.get("/{submission_id}", response_model=SubmissionOut, summary="One submission")
async def get_submission(
    submission_id: uuid.UUID, seller: VisibleSeller, uow: UoW
) -> SubmissionOut:
    return await one_of(uow, submission_id, seller, kind=None, out=submission_out)


@router.post(
    "/{submission_id}/retry",
    response_model=SubmissionOut,
    summary="Send a failed submission to Amazon again (409 unless failed)",
)
async def retry(submission_id: uuid.UUID, seller: VisibleSeller, uow: UoW) -> SubmissionOut:
    return await retry_of(uow, submission_id, seller, kind=None, out=submission_out)


# -- the route bodies, for every kind or one (``confirmations``: kind shipment_confirmation) --


async def page_of(
    uow: UoW,
    seller: str | None,
    *,
    kind: Kind | None,
    status: StrEnum | None,
    amazon_order_id: str | None,
    limit: int,
    cursor: str | None,
    out: Callable[[Any], Out],
) -> Page[Out]:
    """One page of the rows of ``kind`` (None: every kind), oldest first, each as ``out``."""
    position = read_cursor(cursor, After)
    after = (position.at, position.id) if position else None
    rows = await queries.submissions_page(
        uow,
        seller_id=seller,
        kind=kind,
        status=status,
        amazon_order_id=amazon_order_id,
        after=after,
        limit=limit + 1,
    )
    items = [out(r) for r in rows[:limit]]
    last = rows[limit - 1] if len(rows) > limit else None
    next_cursor = encode_cursor(After(at=last.created_at, id=last.id)) if last else None
    return Page(items=items, next_cursor=next_cursor)


async def one_of(
    uow: UoW,
    submission_id: uuid.UUID,
    seller: str | None,
    *,
    kind: Kind | None,
    out: Callable[[Any], Out],
) -> Out:
    row = await queries.submission(uow, submission_id=submission_id, seller_id=seller, kind=kind)
    return out(row)


async def retry_of(
    uow: UoW,
    submission_id: uuid.UUID,
    seller: str | None,
    *,
    kind: Kind | None,
    out: Callable[[Any], Out],
) -> Out:
    command = commands.RetrySubmission(submission_id=submission_id, seller_id=seller, kind=kind)
    async with uow:
        row = await handlers.retry_submission(uow, command=command)
        await uow.commit()
    return out(row)
