"""Domain events to defects.v1 CloudEvents (the contract in shared.events.defects); the unit
of work writes them to the outbox on commit."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from defects.domain import events as ev
from defects.domain import odr
from defects.domain.model import OrderFacts
from shared.events.common import Money as MoneyOut
from shared.events.defects import FEEDBACK_RECEIVED, FEEDBACK_REMOVED, ClaimEvent, FeedbackEvent
from shared.events.registry import build_event
from shared.messaging.envelope import CloudEvent
from shared.topics import DEFECTS

SOURCE = "defects"

_CLAIM_STEP: dict[type[ev.ClaimEvent], str] = {
    ev.ClaimFiled: "filed",
    ev.ClaimResponded: "responded",
    ev.ClaimDecided: "decided",
    ev.ClaimAppealed: "appealed",
    ev.ClaimAppealDecided: "appeal_decided",
    ev.ClaimOverdue: "overdue",
}
_FEEDBACK_TYPE: dict[type[ev.FeedbackEvent], str] = {
    ev.FeedbackReceived: FEEDBACK_RECEIVED,
    ev.FeedbackRemoved: FEEDBACK_REMOVED,
}


def cloud_events(events: Iterable[ev.Event]) -> list[CloudEvent]:
    return [cloud_event(event) for event in events]


def cloud_event(event: ev.Event) -> CloudEvent:
    if isinstance(event, ev.ClaimEvent):
        return _claim_event(event)
    return _feedback_event(event)


def _claim_event(event: ev.ClaimEvent) -> CloudEvent:
    claim, facts = event.claim, event.facts
    amount = claim.amount
    payload = ClaimEvent(
        **_case_fields(facts, odr.claim_verdict(claim, facts)),
        claim_id=str(claim.id),
        kind=claim.kind,
        reason=claim.reason,
        status=claim.status,
        decision=claim.decision,
        amount=MoneyOut(amount=amount.amount, currency_code=amount.currency_code)
        if amount
        else None,
        filed_at=claim.filed_at,
        due_at=claim.due_at,
    )
    event_type = f"{claim.event_type_prefix}.{_CLAIM_STEP[type(event)]}"
    return _build(event_type, payload, claim.version)


def _feedback_event(event: ev.FeedbackEvent) -> CloudEvent:
    feedback = event.feedback
    payload = FeedbackEvent(
        **_case_fields(event.facts, odr.feedback_verdict(feedback)),
        feedback_id=str(feedback.id),
        rating=feedback.rating,
        received_at=feedback.received_at,
        removed_at=feedback.removed_at,
    )
    return _build(_FEEDBACK_TYPE[type(event)], payload, feedback.version)


def _case_fields(facts: OrderFacts, verdict: odr.OdrVerdict) -> dict[str, Any]:
    return {
        "amazon_order_id": facts.amazon_order_id,
        "seller_id": facts.seller_id,
        "fulfillment_channel": facts.fulfillment_channel,
        "order_purchase_date": facts.purchase_date,
        "counts_toward_odr": verdict.counts,
        "odr_rule": verdict.rule,
    }


def _build(event_type: str, payload: ClaimEvent | FeedbackEvent, version: int) -> CloudEvent:
    return build_event(
        topic=DEFECTS,
        event_type=event_type,
        payload=payload,
        source=SOURCE,
        subject=payload.amazon_order_id,
        seller_id=payload.seller_id,
        version=version,
    )
