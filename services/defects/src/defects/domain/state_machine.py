"""The two state machines of a case: claims (A-to-z and chargebacks) and feedback.

Every status change goes through ``transition``, which looks the step up in the explicit
table and raises ``InvalidTransition`` (409) for anything else. Guards that depend on facts
(appeal only a grant, within 30 days) live in ``model``; the table only says what may follow what.
"""

from __future__ import annotations

from enum import StrEnum

from defects.domain.errors import InvalidTransition


class ClaimStatus(StrEnum):
    OPEN = "open"  # Seller Central "Action Required"
    INFORMATION_REQUESTED = "information_requested"  # Amazon asked: reply within 48 h
    RESPONDED = "responded"
    UNDER_REVIEW = "under_review"
    DECIDED = "decided"
    APPEALED = "appealed"
    APPEAL_INFORMATION_REQUESTED = "appeal_information_requested"  # reply within 72 h
    APPEAL_DECIDED = "appeal_decided"


class ClaimAction(StrEnum):
    REQUEST_INFORMATION = "request_information"
    RESPOND = "respond"
    START_REVIEW = "start_review"
    DECIDE = "decide"
    APPEAL = "appeal"
    DECIDE_APPEAL = "decide_appeal"


S, A = ClaimStatus, ClaimAction

CLAIM_TRANSITIONS: dict[tuple[ClaimStatus, ClaimAction], ClaimStatus] = {
    (S.OPEN, A.REQUEST_INFORMATION): S.INFORMATION_REQUESTED,
    (S.OPEN, A.RESPOND): S.RESPONDED,
    (S.OPEN, A.START_REVIEW): S.UNDER_REVIEW,
    (S.OPEN, A.DECIDE): S.DECIDED,
    (S.INFORMATION_REQUESTED, A.RESPOND): S.RESPONDED,
    (S.INFORMATION_REQUESTED, A.DECIDE): S.DECIDED,
    (S.RESPONDED, A.REQUEST_INFORMATION): S.INFORMATION_REQUESTED,
    (S.RESPONDED, A.RESPOND): S.RESPONDED,
    (S.RESPONDED, A.START_REVIEW): S.UNDER_REVIEW,
    (S.RESPONDED, A.DECIDE): S.DECIDED,
    (S.UNDER_REVIEW, A.REQUEST_INFORMATION): S.INFORMATION_REQUESTED,
    (S.UNDER_REVIEW, A.DECIDE): S.DECIDED,
    (S.DECIDED, A.APPEAL): S.APPEALED,
    (S.APPEALED, A.REQUEST_INFORMATION): S.APPEAL_INFORMATION_REQUESTED,
    (S.APPEALED, A.DECIDE_APPEAL): S.APPEAL_DECIDED,
    (S.APPEAL_INFORMATION_REQUESTED, A.RESPOND): S.APPEALED,
    (S.APPEAL_INFORMATION_REQUESTED, A.DECIDE_APPEAL): S.APPEAL_DECIDED,
}

# Cases still waiting for the seller or for Amazon (Seller Central: Action Required, Under Review).
OPEN_CLAIM_STATUSES = frozenset(
    {
        S.OPEN,
        S.INFORMATION_REQUESTED,
        S.RESPONDED,
        S.UNDER_REVIEW,
        S.APPEALED,
        S.APPEAL_INFORMATION_REQUESTED,
    }
)


class FeedbackStatus(StrEnum):
    ACTIVE = "active"
    REMOVAL_REQUESTED = "removal_requested"
    REMOVED = "removed"
    REMOVAL_DENIED = "removal_denied"


class FeedbackAction(StrEnum):
    REQUEST_REMOVAL = "request_removal"
    REMOVE = "remove"
    DENY_REMOVAL = "deny_removal"


F, FA = FeedbackStatus, FeedbackAction

# Negative feedback still counting (or waiting for Amazon's answer to a removal request).
OPEN_FEEDBACK_STATUSES = frozenset({F.ACTIVE, F.REMOVAL_REQUESTED})

FEEDBACK_TRANSITIONS: dict[tuple[FeedbackStatus, FeedbackAction], FeedbackStatus] = {
    (F.ACTIVE, FA.REQUEST_REMOVAL): F.REMOVAL_REQUESTED,
    (F.ACTIVE, FA.REMOVE): F.REMOVED,  # Amazon removed it on its own (or the buyer did)
    (F.REMOVAL_REQUESTED, FA.REMOVE): F.REMOVED,
    (F.REMOVAL_REQUESTED, FA.DENY_REMOVAL): F.REMOVAL_DENIED,
    (F.REMOVAL_DENIED, FA.REMOVE): F.REMOVED,
}


def transition(status: ClaimStatus, action: ClaimAction) -> ClaimStatus:
    """The claim status after ``action``; raises ``InvalidTransition`` when not allowed."""
    target = CLAIM_TRANSITIONS.get((status, action))
    if target is None:
        raise InvalidTransition("claim", status, action, allowed_claim_actions(status))
    return target


def allowed_claim_actions(status: ClaimStatus) -> tuple[str, ...]:
    return tuple(a.value for (s, a) in CLAIM_TRANSITIONS if s is status)


def feedback_transition(status: FeedbackStatus, action: FeedbackAction) -> FeedbackStatus:
    target = FEEDBACK_TRANSITIONS.get((status, action))
    if target is None:
        allowed = tuple(a.value for (s, a) in FEEDBACK_TRANSITIONS if s is status)
        raise InvalidTransition("feedback", status, action, allowed)
    return target
