"""Amazon's clocks on a case (docs/amazon-orders.md section 4).

- Amazon's information request on an A-to-z claim (or chargeback): reply within 48 hours, or the
  claim is granted against the seller.
- A chargeback: respond within 7 calendar days of filing.
- An appeal: within 30 days of a grant; after that the appeal is refused. Amazon's information
  request on an appeal: reply within 72 hours.

``due_at`` is the next moment by which the seller must act, or None when nothing is due from the
seller (an A-to-z claim needs no answer on filing since July 2020; Amazon decides from the
buyer-seller messages unless it asks). ``now`` is always an argument: the clock is injected.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from defects.domain.state_machine import ClaimStatus

if TYPE_CHECKING:
    from defects.domain.model import Claim

INFORMATION_REPLY = timedelta(hours=48)
CHARGEBACK_REPLY = timedelta(days=7)
APPEAL_WINDOW = timedelta(days=30)
APPEAL_INFORMATION_REPLY = timedelta(hours=72)
CLOCK_SKEW = timedelta(minutes=5)


def due_at(claim: Claim) -> datetime | None:
    if claim.status is ClaimStatus.INFORMATION_REQUESTED:
        assert claim.information_requested_at is not None
        return claim.information_requested_at + INFORMATION_REPLY
    if claim.status is ClaimStatus.APPEAL_INFORMATION_REQUESTED:
        assert claim.information_requested_at is not None
        return claim.information_requested_at + APPEAL_INFORMATION_REPLY
    if claim.status is ClaimStatus.OPEN and claim.kind == "chargeback":
        return claim.filed_at + CHARGEBACK_REPLY
    return None


def appeal_deadline(claim: Claim) -> datetime | None:
    """Until when a granted claim can be appealed (None when there is nothing to appeal)."""
    if claim.decided_at is None or claim.decision is None or not claim.decision.is_grant:
        return None
    return claim.decided_at + APPEAL_WINDOW


def can_appeal(claim: Claim, now: datetime) -> bool:
    deadline = appeal_deadline(claim)
    return claim.status is ClaimStatus.DECIDED and deadline is not None and now <= deadline


def is_overdue(claim: Claim, now: datetime) -> bool:
    return claim.due_at is not None and now > claim.due_at
