"""``defects.v1``: A-to-z claims, chargebacks and negative feedback (defects service).

Every event carries the case as it now stands, including whether it counts toward the order
defect rate and the rule that decided it. ``subject`` is the AmazonOrderId;
``aggregateversion`` is the case's own version.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from shared.events.common import Money

CLAIM_TYPES = ("filed", "responded", "decided", "appealed", "appeal_decided", "overdue")
FEEDBACK_RECEIVED = "feedback.received"
FEEDBACK_REMOVED = "feedback.removed"


class _Case(BaseModel):
    model_config = ConfigDict(frozen=True)

    amazon_order_id: str
    seller_id: str
    fulfillment_channel: str | None = Field(default=None, description="AFN or MFN, if known")
    order_purchase_date: datetime | None = None
    counts_toward_odr: bool
    odr_rule: str = Field(description="the rule that decided counts_toward_odr")


class ClaimEvent(_Case):
    """``claim.*`` (A-to-z Guarantee) and ``chargeback.*`` events."""

    claim_id: str
    kind: str = Field(description="a_to_z or chargeback")
    reason: str
    status: str
    decision: str | None = Field(
        default=None,
        description="granted_seller_funded, granted_amazon_funded, denied or withdrawn",
    )
    amount: Money | None = None
    filed_at: datetime
    due_at: datetime | None = None


class FeedbackEvent(_Case):
    feedback_id: str
    rating: int = Field(ge=1, le=5)
    received_at: datetime
    removed_at: datetime | None = None


def _claim_payloads() -> dict[str, type[BaseModel]]:
    return {
        f"{kind}.{what}": ClaimEvent for kind in ("claim", "chargeback") for what in CLAIM_TYPES
    }


PAYLOADS: dict[str, type[BaseModel]] = {
    **_claim_payloads(),
    FEEDBACK_RECEIVED: FeedbackEvent,
    FEEDBACK_REMOVED: FeedbackEvent,
}
