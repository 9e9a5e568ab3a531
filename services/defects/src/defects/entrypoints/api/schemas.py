"""Request and response bodies of defects' API."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from defects.domain.model import AppealOutcome, ClaimKind, ClaimReason, Decision, Money
from shared import inputs

AmazonOrderId = inputs.AmazonOrderId
Note = Annotated[str, inputs.Prose(5000)] | None


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class MoneyIn(_In):
    # NUMERIC(18, 2) in defects' claims: 12 digits and cents is well within it.
    amount: str = Field(
        pattern=r"^[0-9]{1,12}(\.[0-9]{1,2})?$", description='decimal string, e.g. "39.98"'
    )
    currency_code: inputs.CurrencyCode = Field(description="ISO 4217, e.g. USD")

    def to_money(self) -> Money:
        return Money(Decimal(self.amount), self.currency_code)


class MoneyOut(BaseModel):
    amount: str
    currency_code: str


class ClaimIn(_In):
    """File an A-to-z Guarantee claim or a chargeback.

    Reasons: A-to-z ``item_not_received``, ``not_as_described``, ``return_not_refunded``;
    chargeback ``unauthorized``, ``not_received``, ``not_as_described``,
    ``credit_not_processed``, ``duplicate_charge``.
    """

    amazon_order_id: AmazonOrderId
    kind: ClaimKind
    reason: ClaimReason
    amount: MoneyIn
    filed_at: inputs.Moment


class InformationRequestIn(_In):
    requested_at: inputs.Moment | None = Field(
        default=None, description="when Amazon asked (default: now); reply is due 48 h later"
    )
    note: Note = None


class ResponseIn(_In):
    """JSON form of a response; send multipart/form-data (``text`` + ``files``) to attach files."""

    text: Annotated[str, inputs.Prose(20000, min_length=1)]


class ReviewIn(_In):
    note: Note = None


class DecisionIn(_In):
    decision: Decision
    decided_at: inputs.Moment | None = Field(default=None, description="default: now")
    note: Note = None


class AppealIn(_In):
    text: Annotated[str, inputs.Prose(20000)] | None = None


class AppealDecisionIn(_In):
    outcome: AppealOutcome = Field(description="overturned: in the seller's favour")
    decided_at: inputs.Moment | None = Field(default=None, description="default: now")
    note: Note = None


class EvidenceFileOut(BaseModel):
    id: str
    filename: str
    content_type: str
    size_bytes: int
    sha256: str
    uploaded_at: datetime
    download_url: str


class ActivityOut(BaseModel):
    at: datetime
    action: str
    from_status: str | None
    to_status: str
    version: int
    text: str | None = None
    details: dict[str, Any] = {}
    files: list[EvidenceFileOut] = []


class OrderLinkOut(BaseModel):
    known: bool = Field(description="orders.v1 has told this service about the order")
    purchase_date: datetime | None = None
    fulfillment_channel: str | None = None
    order_status: str | None = None


class ClaimSummaryOut(BaseModel):
    id: str
    amazon_order_id: str
    seller_id: str
    kind: ClaimKind
    reason: ClaimReason
    amount: MoneyOut | None
    filed_at: datetime
    status: str
    decision: Decision | None
    decided_at: datetime | None
    information_requested_at: datetime | None
    appeal_outcome: AppealOutcome | None
    due_at: datetime | None = Field(description="when the seller must act next, if anything")
    overdue: bool
    appeal_deadline: datetime | None = Field(description="last moment to appeal a grant")
    allowed_actions: list[str]
    counts_toward_odr: bool
    odr_rule: str
    odr_rule_description: str
    order: OrderLinkOut
    version: int


class ClaimOut(ClaimSummaryOut):
    evidence_packet: dict[str, Any] = Field(
        description="what the service knows of the order: promise, shipments, refunds, "
        "cancellation, returns, and findings in plain words"
    )
    history: list[ActivityOut]


class FeedbackIn(_In):
    amazon_order_id: AmazonOrderId
    rating: int = Field(ge=1, le=5, strict=True, description="1 to 5 stars; 1 and 2 are defects")
    comment: Annotated[str, inputs.Prose(5000)] | None = None
    received_at: inputs.Moment


class RemovalRequestIn(_In):
    reason: Annotated[str, inputs.Prose(2000, min_length=1)]


class RemovalIn(_In):
    outcome: Literal["removed", "denied"]
    decided_at: inputs.Moment | None = Field(default=None, description="default: now")


class FeedbackOut(BaseModel):
    id: str
    amazon_order_id: str
    seller_id: str
    rating: int
    comment: str | None
    received_at: datetime
    status: str
    removal_reason: str | None
    removal_requested_at: datetime | None
    removal_outcome_at: datetime | None
    removed_at: datetime | None
    counts_toward_odr: bool
    odr_rule: str
    odr_rule_description: str
    order: OrderLinkOut
    version: int


class CaseSummaryOut(BaseModel):
    case_type: Literal["a_to_z", "chargeback", "feedback"]
    id: str
    status: str
    reason: str | None = None
    rating: int | None = None
    due_at: datetime | None
    overdue: bool
    counts_toward_odr: bool
    odr_rule: str


class ProblemOrderOut(BaseModel):
    amazon_order_id: str
    seller_id: str
    order: OrderLinkOut
    next_due_at: datetime | None
    overdue: bool
    counts_toward_odr: bool
    cases: list[CaseSummaryOut]
