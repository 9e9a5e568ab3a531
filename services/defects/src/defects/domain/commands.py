"""Commands: what a seller (or Amazon, through the seller's tools) asks defects to record.

Each has one handler in ``service_layer/handlers.py``; a command the domain refuses fails
loudly (``defects.domain.errors``).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from defects.domain.evidence_files import EvidenceFile
from defects.domain.model import AppealOutcome, ClaimKind, ClaimReason, Decision, Money


@dataclass(frozen=True, kw_only=True)
class FileClaim:
    seller_id: str
    amazon_order_id: str
    kind: ClaimKind
    reason: ClaimReason
    amount: Money | None
    filed_at: datetime


@dataclass(frozen=True, kw_only=True)
class ClaimCommand:
    """A step on a case filed before (of this seller)."""

    claim_id: uuid.UUID
    seller_id: str


@dataclass(frozen=True, kw_only=True)
class RequestInformation(ClaimCommand):
    requested_at: datetime
    note: str | None = None


@dataclass(frozen=True, kw_only=True)
class Respond(ClaimCommand):
    text: str
    files: tuple[EvidenceFile, ...] = ()


@dataclass(frozen=True, kw_only=True)
class StartReview(ClaimCommand):
    note: str | None = None


@dataclass(frozen=True, kw_only=True)
class Decide(ClaimCommand):
    decision: Decision
    decided_at: datetime
    note: str | None = None


@dataclass(frozen=True, kw_only=True)
class Appeal(ClaimCommand):
    text: str | None = None


@dataclass(frozen=True, kw_only=True)
class DecideAppeal(ClaimCommand):
    outcome: AppealOutcome
    decided_at: datetime
    note: str | None = None


@dataclass(frozen=True, kw_only=True)
class ReceiveFeedback:
    seller_id: str
    amazon_order_id: str
    rating: int
    comment: str | None
    received_at: datetime


@dataclass(frozen=True, kw_only=True)
class FeedbackCommand:
    feedback_id: uuid.UUID
    seller_id: str


@dataclass(frozen=True, kw_only=True)
class RequestFeedbackRemoval(FeedbackCommand):
    reason: str


@dataclass(frozen=True, kw_only=True)
class RecordFeedbackRemoval(FeedbackCommand):
    removed: bool
    at: datetime
