"""``/v1/feedback``: buyer feedback (1 to 5 stars; 1 and 2 count toward the ODR) and removals.

active ─ removal-request ─> removal_requested ─ removal {removed} ─> removed
   │                               └─ removal {denied} ─> removal_denied ─ removal ─┘
   └──────────── removal {removed} (Amazon removed it on its own) ──> removed
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Query, Response

from defects.domain import commands as cmd
from defects.domain.model import Feedback
from defects.domain.state_machine import FeedbackStatus
from defects.entrypoints.api import presenters
from defects.entrypoints.api.deps import Now, UoW
from defects.entrypoints.api.schemas import FeedbackIn, FeedbackOut, RemovalIn, RemovalRequestIn
from defects.service_layer import handlers, queries
from defects.service_layer.unit_of_work import UnitOfWork
from shared import inputs
from shared.api.auth import ActingSeller, VisibleSeller
from shared.api.pagination import Before, Cursor, Limit, Page, encode_cursor, read_cursor

router = APIRouter(prefix="/v1/feedback", tags=["feedback"])

_404: dict[int | str, dict[str, Any]] = {404: {"description": "no such feedback for this seller"}}
_409: dict[int | str, dict[str, Any]] = {
    409: {"description": "the feedback's state does not allow this step"}
}


@router.post(
    "",
    status_code=201,
    response_model=FeedbackOut,
    summary="Record buyer feedback",
    description=(
        "Feedback is its order and the time it was received: the same feedback sent again (a "
        "retry) answers 200 with the record made the first time; the same order and time with "
        "another rating or comment answers 409."
    ),
    responses={
        200: {"model": FeedbackOut, "description": "recorded before: the record as it is"},
        409: {"description": "feedback for this order and time has another rating or comment"},
    },
)
async def receive(
    body: FeedbackIn, response: Response, seller: ActingSeller, uow: UoW, now: Now
) -> FeedbackOut:
    command = cmd.ReceiveFeedback(
        seller_id=seller,
        amazon_order_id=body.amazon_order_id,
        rating=body.rating,
        comment=body.comment,
        received_at=body.received_at,
    )
    feedback, recorded_now = await handlers.receive_feedback(uow, command, now=now)
    response.status_code = 201 if recorded_now else 200
    response.headers["Location"] = f"/v1/feedback/{feedback.id}"
    return await _out(uow, feedback)


async def _out(uow: UnitOfWork, feedback: Feedback) -> FeedbackOut:
    facts = await queries.order_facts(
        uow, amazon_order_id=feedback.amazon_order_id, seller_id=feedback.seller_id
    )
    return presenters.feedback_out(feedback, facts)


@router.get("", response_model=Page[FeedbackOut], summary="Feedback, newest first")
async def list_feedback(
    seller: VisibleSeller,
    uow: UoW,
    limit: Limit = 50,
    cursor: Cursor = None,
    amazon_order_id: Annotated[inputs.OrderIdLookup | None, Query()] = None,
    status: FeedbackStatus | None = None,
    negative: Annotated[bool, Query(description="only 1 and 2 stars")] = False,
) -> Page[FeedbackOut]:
    position = read_cursor(cursor, Before)
    before = position.before if position else None
    page = await queries.feedback_page(
        uow,
        seller_id=seller,
        amazon_order_id=amazon_order_id,
        status=status,
        negative_only=negative,
        before_seq=before,
        limit=limit,
    )
    last = page.last_seq
    return Page(
        items=[presenters.feedback_out(f, facts) for f, facts in page.items],
        next_cursor=encode_cursor({"before": last}) if last is not None else None,
    )


@router.get("/{feedback_id}", response_model=FeedbackOut, summary="One feedback", responses=_404)
async def get_feedback(feedback_id: uuid.UUID, seller: VisibleSeller, uow: UoW) -> FeedbackOut:
    feedback, facts = await queries.feedback_by_id(uow, feedback_id=feedback_id, seller_id=seller)
    return presenters.feedback_out(feedback, facts)


@router.post(
    "/{feedback_id}/removal-request",
    response_model=FeedbackOut,
    summary="Ask Amazon to remove the feedback",
    responses={**_404, **_409},
)
async def request_removal(
    feedback_id: uuid.UUID, body: RemovalRequestIn, seller: ActingSeller, uow: UoW, now: Now
) -> FeedbackOut:
    command = cmd.RequestFeedbackRemoval(
        feedback_id=feedback_id, seller_id=seller, reason=body.reason
    )
    feedback = await handlers.request_feedback_removal(uow, command, now=now)
    return await _out(uow, feedback)


@router.post(
    "/{feedback_id}/removal",
    response_model=FeedbackOut,
    summary="Record the removal outcome: removed (no longer counts) or denied",
    responses={**_404, **_409},
)
async def record_removal(
    feedback_id: uuid.UUID, body: RemovalIn, seller: ActingSeller, uow: UoW, now: Now
) -> FeedbackOut:
    command = cmd.RecordFeedbackRemoval(
        feedback_id=feedback_id,
        seller_id=seller,
        removed=body.outcome == "removed",
        at=body.decided_at or now,
    )
    feedback = await handlers.record_feedback_removal(uow, command, now=now)
    return await _out(uow, feedback)
