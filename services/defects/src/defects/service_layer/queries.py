"""Reads for the API: cases with what the service knows of their orders, in one transaction
each, nothing written."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from defects.domain.errors import NotFound
from defects.domain.model import (
    Activity,
    Claim,
    ClaimKind,
    Feedback,
    OrderFacts,
    StoredEvidence,
)
from defects.domain.state_machine import ClaimStatus, FeedbackStatus
from defects.service_layer.unit_of_work import OrderKey, UnitOfWork

# Problem orders are ranked from this many open cases of each kind at most.
MAX_OPEN_CASES = 5000


@dataclass(frozen=True)
class ClaimDetail:
    claim: Claim
    facts: OrderFacts
    activity: list[Activity]
    files: list[StoredEvidence]


@dataclass(frozen=True)
class ClaimsPage:
    """A page of cases with their orders' facts; ``last`` positions the next page (when due,
    sequence number) if there is one."""

    items: list[tuple[Claim, OrderFacts]]
    last: tuple[datetime | None, int] | None


@dataclass(frozen=True)
class FeedbackPage:
    items: list[tuple[Feedback, OrderFacts]]
    last_seq: int | None


@dataclass(frozen=True)
class OpenCases:
    claims: list[Claim]
    feedback: list[Feedback]
    facts: dict[OrderKey, OrderFacts]


async def claim_detail(uow: UnitOfWork, *, claim: Claim) -> ClaimDetail:
    """The case with its order's facts, its history and its files (without content)."""
    async with uow:
        return await _detail(uow, claim)


async def claim_by_id(
    uow: UnitOfWork, *, claim_id: uuid.UUID, seller_id: str | None
) -> ClaimDetail:
    async with uow:
        found = await uow.claims.get(claim_id, seller_id=seller_id)
        if found is None:
            raise NotFound(f"No claim {claim_id} for this seller.")
        return await _detail(uow, found)


async def _detail(uow: UnitOfWork, claim: Claim) -> ClaimDetail:
    facts = await uow.orders.facts(claim.amazon_order_id, claim.seller_id)
    activity = await uow.claims.activity(claim.id)
    files = await uow.claims.files(claim.id)
    return ClaimDetail(claim, facts, activity, files)


async def claims_page(
    uow: UnitOfWork,
    *,
    seller_id: str | None,
    status: ClaimStatus | None,
    kind: ClaimKind | None,
    amazon_order_id: str | None,
    due_before: datetime | None,
    after: tuple[datetime | None, int] | None,
    limit: int,
) -> ClaimsPage:
    """Newest first; with ``due_before``, what is due before it, earliest due first."""
    async with uow:
        rows = await uow.claims.page(
            seller_id=seller_id,
            status=status,
            kind=kind,
            amazon_order_id=amazon_order_id,
            due_before=due_before,
            after=after,
            limit=limit + 1,
        )
        shown = [c for c, _ in rows[:limit]]
        facts = await _facts(uow, shown)
    last = rows[limit - 1] if len(rows) > limit else None
    return ClaimsPage(
        items=[(c, facts[(c.amazon_order_id, c.seller_id)]) for c in shown],
        last=(last[0].due_at, last[1]) if last else None,
    )


async def evidence_file(
    uow: UnitOfWork, *, claim_id: uuid.UUID, file_id: uuid.UUID, seller_id: str | None
) -> StoredEvidence:
    """One evidence file with its content, if the claim is this seller's."""
    async with uow:
        found = await uow.claims.get(claim_id, seller_id=seller_id)
        stored = await uow.claims.file(claim_id, file_id) if found else None
    if stored is None:
        raise NotFound(f"No evidence file {file_id} on claim {claim_id} for this seller.")
    return stored


async def feedback_by_id(
    uow: UnitOfWork, *, feedback_id: uuid.UUID, seller_id: str | None
) -> tuple[Feedback, OrderFacts]:
    async with uow:
        found = await uow.feedback.get(feedback_id, seller_id=seller_id)
        if found is None:
            raise NotFound(f"No feedback {feedback_id} for this seller.")
        return found, await uow.orders.facts(found.amazon_order_id, found.seller_id)


async def order_facts(uow: UnitOfWork, *, amazon_order_id: str, seller_id: str) -> OrderFacts:
    async with uow:
        return await uow.orders.facts(amazon_order_id, seller_id)


async def feedback_page(
    uow: UnitOfWork,
    *,
    seller_id: str | None,
    amazon_order_id: str | None,
    status: FeedbackStatus | None,
    negative_only: bool,
    before_seq: int | None,
    limit: int,
) -> FeedbackPage:
    """Newest first."""
    async with uow:
        rows = await uow.feedback.page(
            seller_id=seller_id,
            amazon_order_id=amazon_order_id,
            status=status,
            negative_only=negative_only,
            before_seq=before_seq,
            limit=limit + 1,
        )
        shown = [f for f, _ in rows[:limit]]
        facts = await _facts(uow, shown)
    return FeedbackPage(
        items=[(f, facts[(f.amazon_order_id, f.seller_id)]) for f in shown],
        last_seq=rows[limit - 1][1] if len(rows) > limit else None,
    )


async def open_cases(uow: UnitOfWork, *, seller_id: str | None) -> OpenCases:
    """Claims not decided yet (or under appeal) and negative feedback not removed."""
    async with uow:
        claims = await uow.claims.open_cases(seller_id, MAX_OPEN_CASES)
        feedback = await uow.feedback.open_negative(seller_id, MAX_OPEN_CASES)
        facts = await _facts(uow, [*claims, *feedback])
    return OpenCases(claims, feedback, facts)


async def _facts(uow: UnitOfWork, cases: Iterable[Claim | Feedback]) -> dict[OrderKey, OrderFacts]:
    return await uow.orders.facts_of({(c.amazon_order_id, c.seller_id) for c in cases})
