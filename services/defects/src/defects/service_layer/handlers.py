"""Defects' use cases: file and move claims, record feedback, flag missed deadlines.

Each use case loads the case (locked), asks the domain to change it, saves it, records the step
in the case's history and writes the ``defects.v1`` event to the outbox, all in the caller's
unit of work (one transaction). ``now`` comes from the injected clock.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from defects.domain import odr
from defects.domain.errors import AlreadyRecorded, NotFound
from defects.domain.evidence_files import EvidenceFile
from defects.domain.model import (
    AppealOutcome,
    Claim,
    ClaimKind,
    ClaimReason,
    Decision,
    Feedback,
    Money,
    OrderFacts,
)
from defects.service_layer.unit_of_work import UnitOfWork
from shared.events.common import Money as MoneyOut
from shared.events.defects import FEEDBACK_RECEIVED, FEEDBACK_REMOVED, ClaimEvent, FeedbackEvent
from shared.events.registry import build_event
from shared.topics import DEFECTS

SOURCE = "defects"


# --- claims -----------------------------------------------------------------------------------


async def file_claim(
    uow: UnitOfWork,
    *,
    seller_id: str,
    amazon_order_id: str,
    kind: ClaimKind,
    reason: ClaimReason,
    amount: Money | None,
    filed_at: datetime,
    now: datetime,
) -> tuple[Claim, bool]:
    """The case, and whether it was filed now.

    A claim is its order, kind and filing time: the same claim sent again (a client retrying)
    is the case filed the first time, and nothing is written or announced again. The same
    order, kind and time with another reason or amount is refused (``AlreadyRecorded``).
    """
    # An order id another seller holds is taken as one not known yet: the case is this
    # seller's and is never linked to the other seller's order (facts are read by order *and*
    # seller), so the answer does not tell that the id exists elsewhere (docs/security.md).
    before = await uow.claims.filed_before(
        seller_id=seller_id, amazon_order_id=amazon_order_id, kind=kind, filed_at=filed_at
    )
    if before is not None:
        if (before.reason, before.amount) != (reason, amount):
            raise AlreadyRecorded(
                f"Claim {before.id} for order {amazon_order_id} ({kind}) was filed at "
                f"{filed_at.isoformat()} with reason {before.reason} and "
                f"{_money_text(before.amount)}. A claim filed at the same time with other "
                "details is not taken: use that case, or give the new claim's own filing time."
            )
        return before, False
    claim = Claim.file(
        seller_id=seller_id,
        amazon_order_id=amazon_order_id,
        kind=kind,
        reason=reason,
        amount=amount,
        filed_at=filed_at,
        now=now,
    )
    await uow.claims.add(claim)
    await uow.claims.add_activity(claim=claim, at=now, action="file", from_status=None)
    await _announce(uow, claim, "filed")
    return claim, True


def _money_text(money: Money | None) -> str:
    return "no amount" if money is None else f"amount {money.amount} {money.currency_code}"


async def _load(uow: UnitOfWork, claim_id: uuid.UUID, seller_id: str | None) -> Claim:
    found = await uow.claims.get(claim_id, seller_id=seller_id, lock=True)
    if found is None:
        raise NotFound(f"No claim {claim_id} for this seller.")
    return found[0]


async def _record(
    uow: UnitOfWork,
    claim: Claim,
    *,
    before: str,
    now: datetime,
    event: str | None,
    text: str | None = None,
    details: dict[str, str] | None = None,
) -> int:
    await uow.claims.save(claim)
    activity_id = await uow.claims.add_activity(
        claim=claim,
        at=now,
        action=str(claim.last_action),
        from_status=before,
        text=text,
        details=details,
    )
    if event is not None:
        await _announce(uow, claim, event)
    return activity_id


async def request_information(
    uow: UnitOfWork,
    *,
    claim_id: uuid.UUID,
    seller_id: str,
    requested_at: datetime,
    note: str | None,
    now: datetime,
) -> Claim:
    claim = await _load(uow, claim_id, seller_id)
    before = claim.status
    claim.request_information(requested_at=requested_at, now=now)
    # defects.v1 has no event type for Amazon's information request; due_at shows it.
    await _record(uow, claim, before=before, now=now, event=None, text=note)
    return claim


async def respond(
    uow: UnitOfWork,
    *,
    claim_id: uuid.UUID,
    seller_id: str,
    text: str,
    files: Sequence[EvidenceFile],
    now: datetime,
) -> Claim:
    claim = await _load(uow, claim_id, seller_id)
    before = claim.status
    claim.respond(now=now)
    activity_id = await _record(uow, claim, before=before, now=now, event="responded", text=text)
    for f in files:
        await uow.claims.add_file(
            id=uuid.uuid4(),
            claim_id=claim.id,
            activity_id=activity_id,
            filename=f.filename,
            content_type=f.content_type,
            size_bytes=f.size,
            sha256=f.sha256,
            content=f.content,
        )
    return claim


async def start_review(
    uow: UnitOfWork, *, claim_id: uuid.UUID, seller_id: str, note: str | None, now: datetime
) -> Claim:
    claim = await _load(uow, claim_id, seller_id)
    before = claim.status
    claim.start_review()
    # defects.v1 has no event type for "under review"; the next event carries the new version.
    await _record(uow, claim, before=before, now=now, event=None, text=note)
    return claim


async def decide(
    uow: UnitOfWork,
    *,
    claim_id: uuid.UUID,
    seller_id: str,
    decision: Decision,
    decided_at: datetime,
    note: str | None,
    now: datetime,
) -> Claim:
    claim = await _load(uow, claim_id, seller_id)
    before = claim.status
    claim.decide(decision=decision, decided_at=decided_at, now=now)
    await _record(
        uow,
        claim,
        before=before,
        now=now,
        event="decided",
        text=note,
        details={"decision": decision},
    )
    return claim


async def appeal(
    uow: UnitOfWork, *, claim_id: uuid.UUID, seller_id: str, text: str | None, now: datetime
) -> Claim:
    claim = await _load(uow, claim_id, seller_id)
    before = claim.status
    claim.appeal(now=now)
    await _record(uow, claim, before=before, now=now, event="appealed", text=text)
    return claim


async def decide_appeal(
    uow: UnitOfWork,
    *,
    claim_id: uuid.UUID,
    seller_id: str,
    outcome: AppealOutcome,
    decided_at: datetime,
    note: str | None,
    now: datetime,
) -> Claim:
    claim = await _load(uow, claim_id, seller_id)
    before = claim.status
    claim.decide_appeal(outcome=outcome, decided_at=decided_at, now=now)
    await _record(
        uow,
        claim,
        before=before,
        now=now,
        event="appeal_decided",
        text=note,
        details={"outcome": outcome},
    )
    return claim


async def flag_overdue(uow: UnitOfWork, *, now: datetime, limit: int) -> list[Claim]:
    """Flag every claim whose current deadline passed, once per deadline."""
    flagged = []
    for claim in await uow.claims.overdue_unflagged(now, limit):
        if claim.flag_overdue(now=now):
            await uow.claims.save(claim)
            await uow.claims.add_activity(
                claim=claim,
                at=now,
                action="flag_overdue",
                from_status=claim.status,
                details={"due_at": claim.due_at.isoformat() if claim.due_at else ""},
            )
            await _announce(uow, claim, "overdue")
            flagged.append(claim)
    return flagged


async def _announce(uow: UnitOfWork, claim: Claim, what: str) -> None:
    facts = await uow.orders.facts(claim.amazon_order_id, claim.seller_id)
    verdict = odr.claim_verdict(claim, facts)
    payload = ClaimEvent(
        **_case_fields(facts, verdict),
        claim_id=str(claim.id),
        kind=claim.kind,
        reason=claim.reason,
        status=claim.status,
        decision=claim.decision,
        amount=MoneyOut(amount=claim.amount.amount, currency_code=claim.amount.currency_code)
        if claim.amount
        else None,
        filed_at=claim.filed_at,
        due_at=claim.due_at,
    )
    await _publish(uow, f"{claim.event_type_prefix}.{what}", payload, claim.version)


def _case_fields(facts: OrderFacts, verdict: odr.OdrVerdict) -> dict[str, Any]:
    return {
        "amazon_order_id": facts.amazon_order_id,
        "seller_id": facts.seller_id,
        "fulfillment_channel": facts.fulfillment_channel,
        "order_purchase_date": facts.purchase_date,
        "counts_toward_odr": verdict.counts,
        "odr_rule": verdict.rule,
    }


async def _publish(
    uow: UnitOfWork, event_type: str, payload: ClaimEvent | FeedbackEvent, version: int
) -> None:
    await uow.publish(
        build_event(
            topic=DEFECTS,
            event_type=event_type,
            payload=payload,
            source=SOURCE,
            subject=payload.amazon_order_id,
            seller_id=payload.seller_id,
            version=version,
        )
    )


# --- feedback ---------------------------------------------------------------------------------


async def receive_feedback(
    uow: UnitOfWork,
    *,
    seller_id: str,
    amazon_order_id: str,
    rating: int,
    comment: str | None,
    received_at: datetime,
    now: datetime,
) -> tuple[Feedback, bool]:
    """The feedback, and whether it was recorded now: the same feedback (order and time
    received) sent again is the one recorded the first time; with another rating or comment it
    is refused (``AlreadyRecorded``)."""
    # As for claims: another seller's order id is taken as one not known yet, never linked.
    before = await uow.feedback.received_before(
        seller_id=seller_id, amazon_order_id=amazon_order_id, received_at=received_at
    )
    if before is not None:
        if (before.rating, before.comment) != (rating, comment):
            raise AlreadyRecorded(
                f"Feedback {before.id} for order {amazon_order_id} received at "
                f"{received_at.isoformat()} is recorded with {before.rating} stars and another "
                "comment or rating than this one: use that record, or give this feedback's own "
                "time received."
            )
        return before, False
    feedback = Feedback.receive(
        seller_id=seller_id,
        amazon_order_id=amazon_order_id,
        rating=rating,
        comment=comment,
        received_at=received_at,
        now=now,
    )
    await uow.feedback.add(feedback)
    await _announce_feedback(uow, feedback, FEEDBACK_RECEIVED)
    return feedback, True


async def _load_feedback(uow: UnitOfWork, feedback_id: uuid.UUID, seller_id: str) -> Feedback:
    found = await uow.feedback.get(feedback_id, seller_id=seller_id, lock=True)
    if found is None:
        raise NotFound(f"No feedback {feedback_id} for this seller.")
    return found[0]


async def request_feedback_removal(
    uow: UnitOfWork, *, feedback_id: uuid.UUID, seller_id: str, reason: str, now: datetime
) -> Feedback:
    feedback = await _load_feedback(uow, feedback_id, seller_id)
    feedback.request_removal(reason=reason, now=now)
    await uow.feedback.save(feedback)
    return feedback


async def record_feedback_removal(
    uow: UnitOfWork,
    *,
    feedback_id: uuid.UUID,
    seller_id: str,
    removed: bool,
    at: datetime,
    now: datetime,
) -> Feedback:
    feedback = await _load_feedback(uow, feedback_id, seller_id)
    feedback.record_removal(removed=removed, at=at, now=now)
    await uow.feedback.save(feedback)
    if removed:
        await _announce_feedback(uow, feedback, FEEDBACK_REMOVED)
    return feedback


async def _announce_feedback(uow: UnitOfWork, feedback: Feedback, event_type: str) -> None:
    facts = await uow.orders.facts(feedback.amazon_order_id, feedback.seller_id)
    payload = FeedbackEvent(
        **_case_fields(facts, odr.feedback_verdict(feedback)),
        feedback_id=str(feedback.id),
        rating=feedback.rating,
        received_at=feedback.received_at,
        removed_at=feedback.removed_at,
    )
    await _publish(uow, event_type, payload, feedback.version)
