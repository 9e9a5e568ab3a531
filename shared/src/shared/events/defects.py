"""``defects.v1``: A-to-z claims, chargebacks and negative feedback (defects service).

Every event carries the case as it now stands, including whether it counts toward the order
defect rate and the rule that decided it. ``subject`` is the AmazonOrderId;
``aggregateversion`` is the case's own version.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from shared import inputs
from shared.events.common import Id, Label, Money

CLAIM_TYPES = ("filed", "responded", "decided", "appealed", "appeal_decided", "overdue")
FEEDBACK_RECEIVED = "feedback.received"
FEEDBACK_REMOVED = "feedback.removed"


class _Case(BaseModel):
    model_config = ConfigDict(frozen=True)

    amazon_order_id: inputs.AmazonOrderId
    seller_id: inputs.SellerId
    fulfillment_channel: Label | None = Field(default=None, description="AFN or MFN, if known")
    order_purchase_date: inputs.Moment | None = None
    counts_toward_odr: bool
    odr_rule: Label = Field(description="the rule that decided counts_toward_odr")


class ClaimEvent(_Case):
    """``claim.*`` (A-to-z Guarantee) and ``chargeback.*`` events."""

    claim_id: Id
    kind: Label = Field(description="a_to_z or chargeback")
    reason: Label
    status: Label
    decision: Label | None = Field(
        default=None,
        description="granted_seller_funded, granted_amazon_funded, denied or withdrawn",
    )
    amount: Money | None = None
    filed_at: inputs.Moment
    due_at: inputs.Moment | None = None


class FeedbackEvent(_Case):
    feedback_id: Id
    rating: int = Field(ge=1, le=5)
    received_at: inputs.Moment
    removed_at: inputs.Moment | None = None


def _claim_payloads() -> dict[str, type[BaseModel]]:
    return {
        f"{kind}.{what}": ClaimEvent for kind in ("claim", "chargeback") for what in CLAIM_TYPES
    }


PAYLOADS: dict[str, type[BaseModel]] = {
    **_claim_payloads(),
    FEEDBACK_RECEIVED: FeedbackEvent,
    FEEDBACK_REMOVED: FeedbackEvent,
}
