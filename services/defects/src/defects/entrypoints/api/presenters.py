"""Domain objects -> response bodies (the ODR verdict and deadlines are computed here, on read)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from defects.domain import deadlines, evidence, odr
from defects.domain.model import Claim, Feedback, OrderFacts, StoredEvidence
from defects.domain.state_machine import allowed_claim_actions
from defects.entrypoints.api.schemas import (
    ActivityOut,
    ClaimOut,
    ClaimSummaryOut,
    EvidenceFileOut,
    FeedbackOut,
    MoneyOut,
    OrderLinkOut,
)
from defects.service_layer.queries import ClaimDetail


def order_link(facts: OrderFacts | None) -> OrderLinkOut:
    if facts is None or not facts.known:
        return OrderLinkOut(known=False)
    return OrderLinkOut(
        known=True,
        purchase_date=facts.purchase_date,
        fulfillment_channel=facts.fulfillment_channel,
        order_status=facts.order_status,
    )


def _summary_fields(claim: Claim, facts: OrderFacts | None, now: datetime) -> dict[str, Any]:
    verdict = odr.claim_verdict(claim, facts)
    amount = claim.amount
    return {
        "id": str(claim.id),
        "amazon_order_id": claim.amazon_order_id,
        "seller_id": claim.seller_id,
        "kind": claim.kind,
        "reason": claim.reason,
        "amount": MoneyOut(amount=str(amount.amount), currency_code=amount.currency_code)
        if amount
        else None,
        "filed_at": claim.filed_at,
        "status": claim.status,
        "decision": claim.decision,
        "decided_at": claim.decided_at,
        "information_requested_at": claim.information_requested_at,
        "appeal_outcome": claim.appeal_outcome,
        "due_at": claim.due_at,
        "overdue": claim.is_overdue(now),
        "appeal_deadline": deadlines.appeal_deadline(claim),
        "allowed_actions": list(allowed_claim_actions(claim.status)),
        "counts_toward_odr": verdict.counts,
        "odr_rule": verdict.rule,
        "odr_rule_description": verdict.description,
        "order": order_link(facts),
        "version": claim.version,
    }


def claim_summary(claim: Claim, facts: OrderFacts | None, now: datetime) -> ClaimSummaryOut:
    return ClaimSummaryOut(**_summary_fields(claim, facts, now))


def claim_detail(detail: ClaimDetail, now: datetime) -> ClaimOut:
    claim, facts = detail.claim, detail.facts
    by_activity: dict[int, list[EvidenceFileOut]] = {}
    for f in detail.files:
        by_activity.setdefault(f.activity_id, []).append(_file(claim, f))
    history = [
        ActivityOut(
            at=a.at,
            action=a.action,
            from_status=a.from_status,
            to_status=a.to_status,
            version=a.version,
            text=a.text,
            details=a.details,
            files=by_activity.get(a.id, []),
        )
        for a in detail.activity
    ]
    return ClaimOut(
        **_summary_fields(claim, facts, now),
        evidence_packet=evidence.build_packet(claim, facts),
        history=history,
    )


def _file(claim: Claim, f: StoredEvidence) -> EvidenceFileOut:
    return EvidenceFileOut(
        id=str(f.id),
        filename=f.filename,
        content_type=f.content_type,
        size_bytes=f.size_bytes,
        sha256=f.sha256,
        uploaded_at=f.uploaded_at,
        download_url=f"/v1/claims/{claim.id}/evidence/{f.id}",
    )


def feedback_out(feedback: Feedback, facts: OrderFacts | None) -> FeedbackOut:
    verdict = odr.feedback_verdict(feedback)
    return FeedbackOut(
        id=str(feedback.id),
        amazon_order_id=feedback.amazon_order_id,
        seller_id=feedback.seller_id,
        rating=feedback.rating,
        comment=feedback.comment,
        received_at=feedback.received_at,
        status=feedback.status,
        removal_reason=feedback.removal_reason,
        removal_requested_at=feedback.removal_requested_at,
        removal_outcome_at=feedback.removal_outcome_at,
        removed_at=feedback.removed_at,
        counts_toward_odr=verdict.counts,
        odr_rule=verdict.rule,
        odr_rule_description=verdict.description,
        order=order_link(facts),
        version=feedback.version,
    )
