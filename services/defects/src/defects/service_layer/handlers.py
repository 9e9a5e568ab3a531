"""Defects' use cases: file and move claims, record feedback, flag missed deadlines, keep the
order facts behind the evidence.

A command handler opens its unit of work, loads the case (locked), asks the domain to change it,
saves it, records the step in the case's history, queues the ``defects.v1`` event and commits:
one transaction. ``now`` comes from the injected clock. The handlers of consumed events
(``keep_*``) run in the consumer runner's unit of work, which commits them with the inbox row.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Hashable, Sequence
from datetime import datetime
from typing import TypeVar

from pydantic import BaseModel

from defects.adapters import outbox
from defects.domain import commands as cmd
from defects.domain import events as ev
from defects.domain.errors import AlreadyRecorded, NotFound
from defects.domain.model import Claim, Feedback, Money
from defects.service_layer.unit_of_work import FactId, UnitOfWork
from shared import audit
from shared.events.fulfillment import (
    OrderCanceled,
    OrderShipLate,
    RefundIssued,
    ReturnEvent,
    Shipment,
)
from shared.events.orders import OrderSnapshot

K = TypeVar("K", bound=Hashable)
T = TypeVar("T")

# --- claims -----------------------------------------------------------------------------------


async def file_claim(uow: UnitOfWork, c: cmd.FileClaim, *, now: datetime) -> tuple[Claim, bool]:
    """The case, and whether it was filed now.

    A claim is its order, kind and filing time: the same claim sent again (a client retrying)
    is the case filed the first time, and nothing is written or announced again. The same
    order, kind and time with another reason or amount is refused (``AlreadyRecorded``).
    """
    async with uow:
        # An order id another seller holds is taken as one not known yet: the case is this
        # seller's and is never linked to the other seller's order (facts are read by order
        # *and* seller), so the answer does not tell that the id exists elsewhere
        # (docs/security.md).
        before = await uow.claims.filed_before(
            seller_id=c.seller_id,
            amazon_order_id=c.amazon_order_id,
            kind=c.kind,
            filed_at=c.filed_at,
        )
        if before is not None:
            _same_claim(before, c)
            return before, False
        claim = Claim.file(
            seller_id=c.seller_id,
            amazon_order_id=c.amazon_order_id,
            kind=c.kind,
            reason=c.reason,
            amount=c.amount,
            filed_at=c.filed_at,
            now=now,
        )
        await uow.claims.add(claim)
        await uow.claims.add_activity(claim=claim, at=now, action="file", from_status=None)
        await _announce(uow, claim, ev.ClaimFiled)
        audit.note(resource_type="claim", resource_id=str(claim.id), after=str(claim.status))
        await uow.commit()
    return claim, True


def _same_claim(before: Claim, c: cmd.FileClaim) -> None:
    if (before.reason, before.amount) != (c.reason, c.amount):
        raise AlreadyRecorded(
            f"Claim {before.id} for order {c.amazon_order_id} ({c.kind}) was filed at "
            f"{c.filed_at.isoformat()} with reason {before.reason} and "
            f"{_money_text(before.amount)}. A claim filed at the same time with other "
            "details is not taken: use that case, or give the new claim's own filing time."
        )


def _money_text(money: Money | None) -> str:
    return "no amount" if money is None else f"amount {money.amount} {money.currency_code}"


async def _load(uow: UnitOfWork, c: cmd.ClaimCommand) -> Claim:
    claim = await uow.claims.get(c.claim_id, seller_id=c.seller_id, lock=True)
    if claim is None:
        raise NotFound(f"No claim {c.claim_id} for this seller.")
    return claim


async def _record(
    uow: UnitOfWork,
    claim: Claim,
    *,
    before: str,
    now: datetime,
    event: type[ev.ClaimEvent] | None,
    text: str | None = None,
    details: dict[str, str] | None = None,
) -> int:
    await uow.claims.save(claim)
    audit.note(before=before, after=str(claim.status))  # a no-op outside an API request
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
    uow: UnitOfWork, c: cmd.RequestInformation, *, now: datetime
) -> Claim:
    async with uow:
        claim = await _load(uow, c)
        before = claim.status
        claim.request_information(requested_at=c.requested_at, now=now)
        # defects.v1 has no event type for Amazon's information request; due_at shows it.
        await _record(uow, claim, before=before, now=now, event=None, text=c.note)
        await uow.commit()
    return claim


async def respond(uow: UnitOfWork, c: cmd.Respond, *, now: datetime) -> Claim:
    async with uow:
        claim = await _load(uow, c)
        before = claim.status
        claim.respond(now=now)
        activity_id = await _record(
            uow, claim, before=before, now=now, event=ev.ClaimResponded, text=c.text
        )
        for f in c.files:
            await uow.claims.add_file(
                file_id=uuid.uuid4(), claim_id=claim.id, activity_id=activity_id, file=f
            )
        await uow.commit()
    return claim


async def start_review(uow: UnitOfWork, c: cmd.StartReview, *, now: datetime) -> Claim:
    async with uow:
        claim = await _load(uow, c)
        before = claim.status
        claim.start_review()
        # defects.v1 has no event type for "under review"; the next event carries the version.
        await _record(uow, claim, before=before, now=now, event=None, text=c.note)
        await uow.commit()
    return claim


async def decide(uow: UnitOfWork, c: cmd.Decide, *, now: datetime) -> Claim:
    async with uow:
        claim = await _load(uow, c)
        before = claim.status
        claim.decide(decision=c.decision, decided_at=c.decided_at, now=now)
        await _record(
            uow,
            claim,
            before=before,
            now=now,
            event=ev.ClaimDecided,
            text=c.note,
            details={"decision": c.decision},
        )
        await uow.commit()
    return claim


async def appeal(uow: UnitOfWork, c: cmd.Appeal, *, now: datetime) -> Claim:
    async with uow:
        claim = await _load(uow, c)
        before = claim.status
        claim.appeal(now=now)
        await _record(uow, claim, before=before, now=now, event=ev.ClaimAppealed, text=c.text)
        await uow.commit()
    return claim


async def decide_appeal(uow: UnitOfWork, c: cmd.DecideAppeal, *, now: datetime) -> Claim:
    async with uow:
        claim = await _load(uow, c)
        before = claim.status
        claim.decide_appeal(outcome=c.outcome, decided_at=c.decided_at, now=now)
        await _record(
            uow,
            claim,
            before=before,
            now=now,
            event=ev.ClaimAppealDecided,
            text=c.note,
            details={"outcome": c.outcome},
        )
        await uow.commit()
    return claim


async def flag_overdue(uow: UnitOfWork, *, now: datetime, limit: int) -> list[Claim]:
    """Flag every claim whose current deadline passed, once per deadline (``limit`` at most)."""
    flagged = []
    async with uow:
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
                await _announce(uow, claim, ev.ClaimOverdue)
                flagged.append(claim)
        await uow.commit()
    return flagged


async def _announce(uow: UnitOfWork, claim: Claim, event: type[ev.ClaimEvent]) -> None:
    facts = await uow.orders.facts(claim.amazon_order_id, claim.seller_id)
    uow.publish(outbox.cloud_events([event.of(claim, facts)]))


# --- feedback ---------------------------------------------------------------------------------


async def receive_feedback(
    uow: UnitOfWork, c: cmd.ReceiveFeedback, *, now: datetime
) -> tuple[Feedback, bool]:
    """The feedback, and whether it was recorded now: the same feedback (order and time
    received) sent again is the one recorded the first time; with another rating or comment it
    is refused (``AlreadyRecorded``)."""
    async with uow:
        # As for claims: another seller's order id is taken as one not known yet, never linked.
        before = await uow.feedback.received_before(
            seller_id=c.seller_id, amazon_order_id=c.amazon_order_id, received_at=c.received_at
        )
        if before is not None:
            _same_feedback(before, c)
            return before, False
        feedback = Feedback.receive(
            seller_id=c.seller_id,
            amazon_order_id=c.amazon_order_id,
            rating=c.rating,
            comment=c.comment,
            received_at=c.received_at,
            now=now,
        )
        await uow.feedback.add(feedback)
        await _announce_feedback(uow, feedback, ev.FeedbackReceived)
        audit.note(
            resource_type="feedback", resource_id=str(feedback.id), after=str(feedback.status)
        )
        await uow.commit()
    return feedback, True


def _same_feedback(before: Feedback, c: cmd.ReceiveFeedback) -> None:
    if (before.rating, before.comment) != (c.rating, c.comment):
        raise AlreadyRecorded(
            f"Feedback {before.id} for order {c.amazon_order_id} received at "
            f"{c.received_at.isoformat()} is recorded with {before.rating} stars and another "
            "comment or rating than this one: use that record, or give this feedback's own "
            "time received."
        )


async def _load_feedback(uow: UnitOfWork, c: cmd.FeedbackCommand) -> Feedback:
    feedback = await uow.feedback.get(c.feedback_id, seller_id=c.seller_id, lock=True)
    if feedback is None:
        raise NotFound(f"No feedback {c.feedback_id} for this seller.")
    audit.note(before=str(feedback.status))
    return feedback


async def request_feedback_removal(
    uow: UnitOfWork, c: cmd.RequestFeedbackRemoval, *, now: datetime
) -> Feedback:
    async with uow:
        feedback = await _load_feedback(uow, c)
        feedback.request_removal(reason=c.reason, now=now)
        await uow.feedback.save(feedback)
        audit.note(after=str(feedback.status))
        await uow.commit()
    return feedback


async def record_feedback_removal(
    uow: UnitOfWork, c: cmd.RecordFeedbackRemoval, *, now: datetime
) -> Feedback:
    async with uow:
        feedback = await _load_feedback(uow, c)
        feedback.record_removal(removed=c.removed, at=c.at, now=now)
        await uow.feedback.save(feedback)
        audit.note(after=str(feedback.status))
        if c.removed:
            await _announce_feedback(uow, feedback, ev.FeedbackRemoved)
        await uow.commit()
    return feedback


async def _announce_feedback(
    uow: UnitOfWork, feedback: Feedback, event: type[ev.FeedbackEvent]
) -> None:
    facts = await uow.orders.facts(feedback.amazon_order_id, feedback.seller_id)
    uow.publish(outbox.cloud_events([event.of(feedback, facts)]))


# --- what defects keeps of orders.v1 and fulfillment.v1 ---------------------------------------
#
# A handler gets a run of consecutive events of one partition, in order (a single event is a run
# of one). An order snapshot replaces the stored one only when its version is newer; a
# fulfillment fact (one shipment, refund, return, the cancellation, the late-shipment flag) only
# when fulfillment's version is. Applying a run therefore comes down to: keep, per order (per
# fact), the first event of the highest version in the run, and store it if it is newer than
# what is held, all in one statement. That is what applying the events one by one leaves behind.


async def keep_order_snapshots(uow: UnitOfWork, *, snapshots: Sequence[OrderSnapshot]) -> int:
    """Store each order's newest snapshot of the run over an older one; how many were stored."""
    newest = _newest(snapshots, key=lambda o: o.amazon_order_id, version=lambda o: o.version)
    return await uow.orders.apply_snapshots(newest)


async def keep_fulfillment_facts(uow: UnitOfWork, *, facts: Sequence[tuple[int, BaseModel]]) -> int:
    """Store each fact's newest version of the run over an older one; how many were stored.
    ``facts``: (fulfillment's version of the order, the event's payload)."""
    identified = [(fact_id(payload), version, payload) for version, payload in facts]
    newest = _newest(identified, key=lambda f: f[0], version=lambda f: f[1])
    return await uow.orders.apply_facts(newest)


def _newest(items: Sequence[T], *, key: Callable[[T], K], version: Callable[[T], int]) -> list[T]:
    """Per key, the first item of the highest version (a later equal version would not apply)."""
    newest: dict[K, tuple[int, T]] = {}
    for item in items:
        k, v = key(item), version(item)
        held = newest.get(k)
        if held is None or held[0] < v:
            newest[k] = (v, item)
    return [item for _, item in newest.values()]


def fact_id(payload: BaseModel) -> FactId:
    """(order, kind, key) under which a fulfillment event's fact is kept."""
    kind, key = _kind_and_key(payload)
    order_id: str = getattr(payload, "amazon_order_id")  # noqa: B009
    return order_id, kind, key


def _kind_and_key(payload: BaseModel) -> tuple[str, str]:
    if isinstance(payload, Shipment):
        return "shipment", payload.shipment_id
    if isinstance(payload, RefundIssued):
        return "refund", payload.refund_id
    if isinstance(payload, ReturnEvent):
        return "return", payload.return_id
    if isinstance(payload, OrderCanceled):
        return "cancellation", "order"
    if isinstance(payload, OrderShipLate):
        return "ship_late", "order"
    raise TypeError(f"not a fact defects keeps: {type(payload).__name__}")
