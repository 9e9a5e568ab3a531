"""Cases (claims, chargebacks, feedback) and what the service knows of their orders.

A ``Claim`` changes only through its methods; each one runs the state machine, bumps the
case's ``version`` (the ``aggregateversion`` of its events) and recomputes ``due_at``.
``now`` is always passed in (an injected clock), so deadline rules are testable.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from defects.domain import deadlines
from defects.domain.errors import DeadlinePassed, InvalidInput, InvalidTransition
from defects.domain.state_machine import (
    ClaimAction,
    ClaimStatus,
    FeedbackAction,
    FeedbackStatus,
    feedback_transition,
    transition,
)


class ClaimKind(StrEnum):
    A_TO_Z = "a_to_z"
    CHARGEBACK = "chargeback"

    @property
    def event_prefix(self) -> str:
        return "claim" if self is ClaimKind.A_TO_Z else "chargeback"


class ClaimReason(StrEnum):
    # A-to-z Guarantee (Amazon's three eligible reasons)
    ITEM_NOT_RECEIVED = "item_not_received"
    NOT_AS_DESCRIBED = "not_as_described"
    RETURN_NOT_REFUNDED = "return_not_refunded"
    # card chargebacks (the card network's reason families)
    UNAUTHORIZED = "unauthorized"
    NOT_RECEIVED = "not_received"
    CREDIT_NOT_PROCESSED = "credit_not_processed"
    DUPLICATE_CHARGE = "duplicate_charge"


REASONS_BY_KIND: dict[ClaimKind, frozenset[ClaimReason]] = {
    ClaimKind.A_TO_Z: frozenset(
        {
            ClaimReason.ITEM_NOT_RECEIVED,
            ClaimReason.NOT_AS_DESCRIBED,
            ClaimReason.RETURN_NOT_REFUNDED,
        }
    ),
    ClaimKind.CHARGEBACK: frozenset(
        {
            ClaimReason.UNAUTHORIZED,
            ClaimReason.NOT_RECEIVED,
            ClaimReason.NOT_AS_DESCRIBED,
            ClaimReason.CREDIT_NOT_PROCESSED,
            ClaimReason.DUPLICATE_CHARGE,
        }
    ),
}


class Decision(StrEnum):
    GRANTED_SELLER_FUNDED = "granted_seller_funded"
    GRANTED_AMAZON_FUNDED = "granted_amazon_funded"
    DENIED = "denied"
    WITHDRAWN = "withdrawn"

    @property
    def is_grant(self) -> bool:
        return self in (Decision.GRANTED_SELLER_FUNDED, Decision.GRANTED_AMAZON_FUNDED)


class AppealOutcome(StrEnum):
    OVERTURNED = "overturned"  # in the seller's favour: the grant is reversed
    UPHELD = "upheld"  # the grant stands


@dataclass(frozen=True)
class Money:
    amount: Decimal
    currency_code: str


# --- what the service knows of an order (from orders.v1 and fulfillment.v1) -------------------


@dataclass(frozen=True)
class ShipmentFact:
    shipment_id: str
    carrier_code: str
    tracking_number: str
    ship_date: datetime
    on_time: bool
    is_buy_shipping: bool
    valid_tracking: bool
    carrier_name: str | None = None
    ship_method: str | None = None
    latest_ship_date: datetime | None = None
    latest_delivery_date: datetime | None = None


@dataclass(frozen=True)
class RefundFact:
    refund_id: str
    reason: str
    total: Money
    refunded_at: datetime


@dataclass(frozen=True)
class CancellationFact:
    reason: str
    canceled_by: str
    buyer_requested: bool
    canceled_at: datetime


@dataclass(frozen=True)
class ReturnFact:
    return_id: str
    rma_id: str
    reason: str | None
    authorized_at: datetime
    received_at: datetime | None


@dataclass(frozen=True)
class OrderFacts:
    amazon_order_id: str
    seller_id: str
    known: bool = False  # True once orders.v1 told us about the order
    purchase_date: datetime | None = None
    fulfillment_channel: str | None = None
    order_status: str | None = None
    marketplace_id: str | None = None
    order_total: Money | None = None
    ship_service_level: str | None = None
    latest_ship_date: datetime | None = None
    earliest_delivery_date: datetime | None = None
    latest_delivery_date: datetime | None = None
    shipments: tuple[ShipmentFact, ...] = ()
    refunds: tuple[RefundFact, ...] = ()
    cancellation: CancellationFact | None = None
    returns: tuple[ReturnFact, ...] = ()
    ship_late_flagged_at: datetime | None = None

    def shipped_on_time_with_buy_shipping(self) -> bool:
        return any(s.on_time and s.is_buy_shipping for s in self.shipments)

    def refunded_since(self, moment: datetime) -> bool:
        return any(r.refunded_at >= moment for r in self.refunds)

    def canceled_by_seller_or_amazon(self) -> bool:
        c = self.cancellation
        return c is not None and not c.buyer_requested and c.canceled_by in ("seller", "amazon")


# --- claims -----------------------------------------------------------------------------------


@dataclass
class Claim:
    id: uuid.UUID
    seller_id: str
    amazon_order_id: str
    kind: ClaimKind
    reason: ClaimReason
    amount: Money | None
    filed_at: datetime
    status: ClaimStatus = ClaimStatus.OPEN
    version: int = 1
    decision: Decision | None = None
    decided_at: datetime | None = None
    information_requested_at: datetime | None = None
    responded_at: datetime | None = None
    appealed_at: datetime | None = None
    appeal_outcome: AppealOutcome | None = None
    appeal_decided_at: datetime | None = None
    due_at: datetime | None = None
    overdue_flagged_for: datetime | None = None
    last_action: ClaimAction | None = field(default=None, compare=False)

    @classmethod
    def file(
        cls,
        *,
        seller_id: str,
        amazon_order_id: str,
        kind: ClaimKind,
        reason: ClaimReason,
        amount: Money | None,
        filed_at: datetime,
        now: datetime,
        claim_id: uuid.UUID | None = None,
    ) -> Claim:
        if reason not in REASONS_BY_KIND[kind]:
            allowed = ", ".join(sorted(REASONS_BY_KIND[kind]))
            raise InvalidInput("reason", f"a {kind} case takes one of: {allowed}")
        _not_in_future("filed_at", filed_at, now)
        claim = cls(
            id=claim_id or uuid.uuid4(),
            seller_id=seller_id,
            amazon_order_id=amazon_order_id,
            kind=kind,
            reason=reason,
            amount=amount,
            filed_at=filed_at,
        )
        claim.due_at = deadlines.due_at(claim)
        return claim

    @property
    def event_type_prefix(self) -> str:
        return self.kind.event_prefix

    def request_information(self, *, requested_at: datetime, now: datetime) -> None:
        self._check_time("requested_at", requested_at, now)
        self._step(ClaimAction.REQUEST_INFORMATION)
        self.information_requested_at = requested_at
        self._refresh()

    def respond(self, *, now: datetime) -> None:
        self._step(ClaimAction.RESPOND)
        self.responded_at = now
        self._refresh()

    def start_review(self) -> None:
        self._step(ClaimAction.START_REVIEW)
        self._refresh()

    def decide(self, *, decision: Decision, decided_at: datetime, now: datetime) -> None:
        self._check_time("decided_at", decided_at, now)
        self._step(ClaimAction.DECIDE)
        self.decision, self.decided_at = decision, decided_at
        self._refresh()

    def appeal(self, *, now: datetime) -> None:
        if self.status is ClaimStatus.DECIDED and not (self.decision and self.decision.is_grant):
            raise InvalidTransition(
                "claim",
                self.status,
                ClaimAction.APPEAL,
                (),
                why=f"Only a granted claim can be appealed; this one was {self.decision}.",
            )
        if self.status is ClaimStatus.DECIDED and not deadlines.can_appeal(self, now):
            raise DeadlinePassed(
                f"The appeal window closed at {deadlines.appeal_deadline(self)}: "
                f"Amazon takes appeals within {deadlines.APPEAL_WINDOW.days} days of a grant."
            )
        self._step(ClaimAction.APPEAL)
        self.appealed_at = now
        self._refresh()

    def decide_appeal(self, *, outcome: AppealOutcome, decided_at: datetime, now: datetime) -> None:
        self._check_time("decided_at", decided_at, now)
        self._step(ClaimAction.DECIDE_APPEAL)
        self.appeal_outcome, self.appeal_decided_at = outcome, decided_at
        self._refresh()

    def flag_overdue(self, *, now: datetime) -> bool:
        """Flag the current deadline as missed, once; True when this call flagged it."""
        if not deadlines.is_overdue(self, now) or self.overdue_flagged_for == self.due_at:
            return False
        self.overdue_flagged_for = self.due_at
        self.version += 1
        return True

    def is_overdue(self, now: datetime) -> bool:
        return deadlines.is_overdue(self, now)

    def _check_time(self, field_name: str, moment: datetime, now: datetime) -> None:
        _not_in_future(field_name, moment, now)
        if moment < self.filed_at:
            raise InvalidInput(field_name, "must not be before the claim was filed (filed_at)")

    def _step(self, action: ClaimAction) -> None:
        self.status = transition(self.status, action)
        self.last_action = action
        self.version += 1

    def _refresh(self) -> None:
        self.due_at = deadlines.due_at(self)


# --- feedback ---------------------------------------------------------------------------------


@dataclass
class Feedback:
    id: uuid.UUID
    seller_id: str
    amazon_order_id: str
    rating: int
    comment: str | None
    received_at: datetime
    status: FeedbackStatus = FeedbackStatus.ACTIVE
    version: int = 1
    removal_reason: str | None = None
    removal_requested_at: datetime | None = None
    removal_outcome_at: datetime | None = None
    removed_at: datetime | None = None

    @classmethod
    def receive(
        cls,
        *,
        seller_id: str,
        amazon_order_id: str,
        rating: int,
        comment: str | None,
        received_at: datetime,
        now: datetime,
    ) -> Feedback:
        if not 1 <= rating <= 5:
            raise InvalidInput("rating", "a rating is 1 to 5 stars")
        _not_in_future("received_at", received_at, now)
        return cls(uuid.uuid4(), seller_id, amazon_order_id, rating, comment, received_at)

    @property
    def is_negative(self) -> bool:
        return self.rating <= 2

    def request_removal(self, *, reason: str, now: datetime) -> None:
        self._step(FeedbackAction.REQUEST_REMOVAL)
        self.removal_reason, self.removal_requested_at = reason, now

    def record_removal(self, *, removed: bool, at: datetime, now: datetime) -> None:
        _not_in_future("decided_at", at, now)
        self._step(FeedbackAction.REMOVE if removed else FeedbackAction.DENY_REMOVAL)
        self.removal_outcome_at = at
        if removed:
            self.removed_at = at

    def _step(self, action: FeedbackAction) -> None:
        self.status = feedback_transition(self.status, action)
        self.version += 1


def _not_in_future(field_name: str, moment: datetime, now: datetime) -> None:
    if moment.tzinfo is None:
        raise InvalidInput(field_name, "give a time zone (e.g. 2026-11-26T06:00:00Z)")
    if moment > now + deadlines.CLOCK_SKEW:
        raise InvalidInput(field_name, "must not be in the future")


# --- a case's history -------------------------------------------------------------------------


@dataclass(frozen=True)
class Activity:
    """One step of a claim's history, as recorded."""

    id: int
    at: datetime
    action: str
    from_status: str | None
    to_status: str
    version: int
    text: str | None = None
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class StoredEvidence:
    """An evidence file kept with a claim's response; ``content`` only when it is downloaded."""

    id: uuid.UUID
    activity_id: int
    filename: str
    content_type: str
    size_bytes: int
    sha256: str
    uploaded_at: datetime
    content: bytes | None = None
