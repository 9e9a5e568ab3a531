"""``/v1/claims``: A-to-z Guarantee claims and chargebacks, through one state machine.

    open (action required) ─┬─ information-requests ─> information_requested (reply in 48 h)
                            ├─ responses ────────────> responded ─ review ─> under_review
                            └─ decision ─────────────> decided
    decided (a grant, within 30 days) ─ appeal ─> appealed ─ appeal-decision ─> appeal_decided
    appealed ─ information-requests ─> appeal_information_requested (reply in 72 h)
                                        ─ responses ─> appealed

information_requested ─ responses ─> responded; responded / under_review can be asked again;
any undecided case can be decided. Chargebacks are due 7 days after filing.
Forbidden steps answer 409 saying what the case can do instead.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Query, Request, Response
from pydantic import AwareDatetime, ValidationError
from starlette.datastructures import UploadFile

from defects.domain import commands as cmd
from defects.domain import evidence_files
from defects.domain.model import Claim, ClaimKind
from defects.domain.state_machine import ClaimStatus
from defects.entrypoints.api import presenters
from defects.entrypoints.api.deps import Now, UoW
from defects.entrypoints.api.schemas import (
    AppealDecisionIn,
    AppealIn,
    ClaimIn,
    ClaimOut,
    ClaimSummaryOut,
    DecisionIn,
    InformationRequestIn,
    ResponseIn,
    ReviewIn,
)
from defects.service_layer import handlers, queries
from defects.service_layer.unit_of_work import UnitOfWork
from shared import inputs
from shared.api.auth import ActingSeller, VisibleSeller
from shared.api.pagination import Cursor, Limit, Page, Position, encode_cursor, read_cursor
from shared.api.problems import Problem

router = APIRouter(prefix="/v1/claims", tags=["claims"])

FORM_TYPES = ("multipart/form-data", "application/x-www-form-urlencoded")

_409: dict[int | str, dict[str, Any]] = {
    409: {"description": "the case's state machine does not allow this step now"}
}
_404: dict[int | str, dict[str, Any]] = {404: {"description": "no such case for this seller"}}


async def _detail(uow: UnitOfWork, claim: Claim, now: datetime) -> ClaimOut:
    return presenters.claim_detail(await queries.claim_detail(uow, claim=claim), now)


@router.post(
    "",
    status_code=201,
    response_model=ClaimOut,
    summary="File an A-to-z claim or a chargeback for an order",
    description=(
        "A claim is its order, kind and filing time: the same claim sent again (a retry) "
        "answers 200 with the case filed the first time, and nothing is filed or announced "
        "twice; the same order, kind and time with another reason or amount answers 409."
    ),
    responses={
        200: {"model": ClaimOut, "description": "filed before: the case as it is"},
        **_404,
        409: {"description": "a claim for this order, kind and time has other details"},
    },
)
async def file_claim(
    body: ClaimIn, response: Response, seller: ActingSeller, uow: UoW, now: Now
) -> ClaimOut:
    command = cmd.FileClaim(
        seller_id=seller,
        amazon_order_id=body.amazon_order_id,
        kind=body.kind,
        reason=body.reason,
        amount=body.amount.to_money(),
        filed_at=body.filed_at,
    )
    claim, filed_now = await handlers.file_claim(uow, command, now=now)
    out = await _detail(uow, claim, now)
    response.status_code = 201 if filed_now else 200
    response.headers["Location"] = f"/v1/claims/{claim.id}"
    return out


@router.get(
    "",
    response_model=Page[ClaimSummaryOut],
    summary="List claims; with due_before, what needs action first",
)
async def list_claims(
    seller: VisibleSeller,
    uow: UoW,
    now: Now,
    limit: Limit = 50,
    cursor: Cursor = None,
    status: ClaimStatus | None = None,
    kind: ClaimKind | None = None,
    amazon_order_id: Annotated[inputs.OrderIdLookup | None, Query()] = None,
    due_before: Annotated[
        inputs.Moment | None,
        Query(
            description="only cases due before this time (with its time zone), earliest due first"
        ),
    ] = None,
) -> Page[ClaimSummaryOut]:
    position = read_cursor(cursor, After)
    after = (position.due, position.seq) if position else None
    page = await queries.claims_page(
        uow,
        seller_id=seller,
        status=status,
        kind=kind,
        amazon_order_id=amazon_order_id,
        due_before=due_before,
        after=after,
        limit=limit,
    )
    items = [presenters.claim_summary(c, facts, now) for c, facts in page.items]
    last = page.last
    next_cursor = encode_cursor(After(due=last[0], seq=last[1])) if last else None
    return Page(items=items, next_cursor=next_cursor)


class After(Position):
    """The last case of a page: when it is due (if at all) and its sequence number."""

    due: AwareDatetime | None
    seq: inputs.Count64


@router.get("/{claim_id}", response_model=ClaimOut, summary="One case", responses=_404)
async def get_claim(claim_id: uuid.UUID, seller: VisibleSeller, uow: UoW, now: Now) -> ClaimOut:
    detail = await queries.claim_by_id(uow, claim_id=claim_id, seller_id=seller)
    return presenters.claim_detail(detail, now)


@router.post(
    "/{claim_id}/information-requests",
    response_model=ClaimOut,
    summary="Amazon asked for information: the reply is due within 48 hours",
    responses={**_404, **_409},
)
async def request_information(
    claim_id: uuid.UUID, body: InformationRequestIn, seller: ActingSeller, uow: UoW, now: Now
) -> ClaimOut:
    command = cmd.RequestInformation(
        claim_id=claim_id,
        seller_id=seller,
        requested_at=body.requested_at or now,
        note=body.note,
    )
    claim = await handlers.request_information(uow, command, now=now)
    return await _detail(uow, claim, now)


RESPONSE_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "properties": {
                        "text": {"type": "string", "maxLength": 20000},
                        "files": {
                            "type": "array",
                            "maxItems": evidence_files.MAX_FILES,
                            "items": {"type": "string", "format": "binary"},
                            "description": "PDF, PNG, JPEG or plain text; 5 at most, all of the "
                            "request within MAX_BODY_BYTES (5 MiB)",
                        },
                    },
                    "required": ["text"],
                }
            },
            "application/x-www-form-urlencoded": {
                "schema": {
                    "type": "object",
                    "properties": {"text": {"type": "string", "maxLength": 20000}},
                    "required": ["text"],
                }
            },
            "application/json": {"schema": ResponseIn.model_json_schema()},
        },
    }
}


@router.post(
    "/{claim_id}/responses",
    response_model=ClaimOut,
    summary="The seller's answer: text and evidence files (multipart) or text (JSON)",
    openapi_extra=RESPONSE_BODY,
    responses={**_404, **_409, 413: {"description": "file too large"}, 415: {}},
)
async def respond(
    claim_id: uuid.UUID, request: Request, seller: ActingSeller, uow: UoW, now: Now
) -> ClaimOut:
    text, files = await _response_of(request)
    command = cmd.Respond(claim_id=claim_id, seller_id=seller, text=text, files=tuple(files))
    claim = await handlers.respond(uow, command, now=now)
    return await _detail(uow, claim, now)


async def _response_of(request: Request) -> tuple[str, list[evidence_files.EvidenceFile]]:
    content_type = request.headers.get("content-type", "")
    if content_type.startswith(FORM_TYPES):
        async with request.form(max_files=50, max_fields=20) as form:
            uploads = [u for u in form.getlist("files") if isinstance(u, UploadFile)]
            evidence_files.check_count(len(uploads))
            raw_text = form.get("text")
            text = _text(raw_text if isinstance(raw_text, str) else None)
            files = [
                evidence_files.accept(
                    index=i,
                    filename=u.filename,
                    declared=u.content_type,
                    content=await u.read(evidence_files.MAX_FILE_BYTES + 1),
                )
                for i, u in enumerate(uploads)
            ]
        return text, files
    try:
        body = ResponseIn.model_validate(orjson.loads(await request.body()))
    except orjson.JSONDecodeError as exc:
        raise Problem(
            400,
            "Malformed JSON",
            "The request body is not valid JSON.",
            errors=[{"field": "body", "message": "not valid JSON"}],
        ) from exc
    except ValidationError as exc:
        raise _invalid(exc) from exc
    return body.text, []


def _text(value: str | None) -> str:
    try:
        return ResponseIn(text=value or "").text
    except ValidationError as exc:
        raise _invalid(exc) from exc


def _invalid(exc: ValidationError) -> Problem:
    errors = inputs.field_errors(exc.errors(), prefix=("body",))
    return Problem(422, "Invalid request", inputs.summary(errors), errors=errors)


@router.post(
    "/{claim_id}/review",
    response_model=ClaimOut,
    summary="Amazon started reviewing the case",
    responses={**_404, **_409},
)
async def start_review(
    claim_id: uuid.UUID, body: ReviewIn, seller: ActingSeller, uow: UoW, now: Now
) -> ClaimOut:
    command = cmd.StartReview(claim_id=claim_id, seller_id=seller, note=body.note)
    claim = await handlers.start_review(uow, command, now=now)
    return await _detail(uow, claim, now)


@router.post(
    "/{claim_id}/decision",
    response_model=ClaimOut,
    summary="Amazon's decision: granted (seller- or Amazon-funded), denied or withdrawn",
    responses={**_404, **_409},
)
async def decide(
    claim_id: uuid.UUID, body: DecisionIn, seller: ActingSeller, uow: UoW, now: Now
) -> ClaimOut:
    command = cmd.Decide(
        claim_id=claim_id,
        seller_id=seller,
        decision=body.decision,
        decided_at=body.decided_at or now,
        note=body.note,
    )
    claim = await handlers.decide(uow, command, now=now)
    return await _detail(uow, claim, now)


@router.post(
    "/{claim_id}/appeal",
    response_model=ClaimOut,
    summary="Appeal a grant (within 30 days of it; 409 after)",
    responses={**_404, **_409},
)
async def appeal(
    claim_id: uuid.UUID, body: AppealIn, seller: ActingSeller, uow: UoW, now: Now
) -> ClaimOut:
    command = cmd.Appeal(claim_id=claim_id, seller_id=seller, text=body.text)
    claim = await handlers.appeal(uow, command, now=now)
    return await _detail(uow, claim, now)


@router.post(
    "/{claim_id}/appeal-decision",
    response_model=ClaimOut,
    summary="Amazon's decision on the appeal: overturned (seller wins) or upheld",
    responses={**_404, **_409},
)
async def decide_appeal(
    claim_id: uuid.UUID, body: AppealDecisionIn, seller: ActingSeller, uow: UoW, now: Now
) -> ClaimOut:
    command = cmd.DecideAppeal(
        claim_id=claim_id,
        seller_id=seller,
        outcome=body.outcome,
        decided_at=body.decided_at or now,
        note=body.note,
    )
    claim = await handlers.decide_appeal(uow, command, now=now)
    return await _detail(uow, claim, now)


@router.get(
    "/{claim_id}/evidence/{file_id}",
    summary="Download an evidence file (always as an attachment)",
    response_class=Response,
    responses={**_404, 200: {"content": {"application/octet-stream": {}}}},
)
async def download_evidence(
    claim_id: uuid.UUID, file_id: uuid.UUID, seller: VisibleSeller, uow: UoW
) -> Response:
    row = await queries.evidence_file(uow, claim_id=claim_id, file_id=file_id, seller_id=seller)
    return Response(
        content=row.content,
        media_type=row.content_type,
        headers={
            "Content-Disposition": f'attachment; filename="{row.filename}"',
            "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": "default-src 'none'; sandbox",
            "Cache-Control": "private, no-store",
            "X-Evidence-SHA256": row.sha256,
        },
    )
