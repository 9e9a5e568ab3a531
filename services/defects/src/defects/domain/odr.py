"""Does a case count toward the order defect rate (ODR)? Amazon's rules, as one pure function.

docs/amazon-orders.md section 4: ODR = orders with an A-to-z claim, a chargeback or negative
feedback (1-2 stars) / orders, over 60 days by order date, AFN and MFN separately.

A-to-z Guarantee claims count unless
  (a) denied or withdrawn,
  (b) granted but Amazon-funded, or a delivery claim (item_not_received) on an order shipped on
      time with Amazon Buy Shipping (Buy Shipping claims protection),
  (c) an appeal was decided in the seller's favour.
  An undecided claim counts provisionally, and firmly once the seller refunded after filing or
  the order was canceled by the seller or Amazon.
Chargebacks count unless decided in the seller's favour (denied), withdrawn, or overturned on
appeal. Negative feedback counts unless removed; 3 to 5 stars never count.

Every verdict names its rule: a short stable code (``odr_rule``) and a sentence.
"""

from __future__ import annotations

from dataclasses import dataclass

from defects.domain.model import (
    AppealOutcome,
    Claim,
    ClaimKind,
    ClaimReason,
    Decision,
    Feedback,
    OrderFacts,
)
from defects.domain.state_machine import ClaimStatus, FeedbackStatus


@dataclass(frozen=True)
class OdrVerdict:
    counts: bool
    rule: str
    description: str


def _v(counts: bool, rule: str, description: str) -> OdrVerdict:
    return OdrVerdict(counts, rule, description)


def claim_verdict(claim: Claim, facts: OrderFacts | None) -> OdrVerdict:
    if claim.kind is ClaimKind.CHARGEBACK:
        return _chargeback(claim)
    return _a_to_z(claim, facts)


def _appeal_won(claim: Claim) -> bool:
    return (
        claim.status is ClaimStatus.APPEAL_DECIDED
        and claim.appeal_outcome is AppealOutcome.OVERTURNED
    )


def _a_to_z(claim: Claim, facts: OrderFacts | None) -> OdrVerdict:
    if _appeal_won(claim):
        return _v(False, "a_to_z.appeal_won", "The appeal was decided in the seller's favour.")
    if claim.decision is Decision.DENIED:
        return _v(False, "a_to_z.denied", "Amazon denied the claim.")
    if claim.decision is Decision.WITHDRAWN:
        return _v(False, "a_to_z.withdrawn", "The buyer withdrew the claim.")
    if _buy_shipping_protected(claim, facts):
        return _v(
            False,
            "a_to_z.buy_shipping_protected",
            "Delivery claim on an order shipped on time with Amazon Buy Shipping: "
            "covered by Buy Shipping claims protection.",
        )
    if claim.decision is Decision.GRANTED_AMAZON_FUNDED:
        return _v(False, "a_to_z.amazon_funded", "Granted, but funded by Amazon.")
    if claim.decision is Decision.GRANTED_SELLER_FUNDED:
        return _granted(claim)
    return _undecided(claim, facts)


def _buy_shipping_protected(claim: Claim, facts: OrderFacts | None) -> bool:
    return (
        claim.reason is ClaimReason.ITEM_NOT_RECEIVED
        and facts is not None
        and facts.shipped_on_time_with_buy_shipping()
    )


def _granted(claim: Claim) -> OdrVerdict:
    if claim.status in (ClaimStatus.APPEALED, ClaimStatus.APPEAL_INFORMATION_REQUESTED):
        return _v(
            True,
            "a_to_z.appeal_pending",
            "Granted against the seller; counts unless the pending appeal reverses it.",
        )
    if claim.status is ClaimStatus.APPEAL_DECIDED:
        return _v(True, "a_to_z.appeal_lost", "Granted against the seller; the appeal upheld it.")
    return _v(True, "a_to_z.granted_seller_funded", "Granted and debited to the seller.")


def _undecided(claim: Claim, facts: OrderFacts | None) -> OdrVerdict:
    if facts is not None and facts.refunded_since(claim.filed_at):
        return _v(
            True,
            "a_to_z.refunded_after_filing",
            "The seller refunded after the claim was filed: it counts.",
        )
    if facts is not None and facts.canceled_by_seller_or_amazon():
        return _v(True, "a_to_z.order_canceled", "The order was canceled by the seller or Amazon.")
    return _v(
        True,
        "a_to_z.open_provisional",
        "Open claim: counts provisionally until Amazon decides it.",
    )


def _chargeback(claim: Claim) -> OdrVerdict:
    if _appeal_won(claim):
        return _v(False, "chargeback.appeal_won", "Reversed on appeal in the seller's favour.")
    if claim.decision is Decision.DENIED:
        return _v(
            False,
            "chargeback.decided_for_seller",
            "Decided in the seller's favour (the representment won).",
        )
    if claim.decision is Decision.WITHDRAWN:
        return _v(False, "chargeback.withdrawn", "The buyer or the bank withdrew the chargeback.")
    if claim.decision is not None:
        return _v(True, "chargeback.granted", "Decided against the seller: it counts.")
    return _v(
        True,
        "chargeback.open_provisional",
        "Open chargeback: counts provisionally unless decided in the seller's favour.",
    )


def feedback_verdict(feedback: Feedback) -> OdrVerdict:
    if not feedback.is_negative:
        return _v(False, "feedback.not_negative", "3 to 5 stars is not negative feedback.")
    if feedback.status is FeedbackStatus.REMOVED:
        return _v(False, "feedback.removed", "Negative feedback that was removed does not count.")
    return _v(True, "feedback.negative", "Negative feedback (1 or 2 stars) counts.")
