"""The ODR rule, one test per branch (docs/amazon-orders.md section 4)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from defects.domain.model import (
    AppealOutcome,
    CancellationFact,
    Claim,
    ClaimKind,
    ClaimReason,
    Decision,
    Feedback,
    Money,
    OrderFacts,
    RefundFact,
    ShipmentFact,
)
from defects.domain.odr import claim_verdict, feedback_verdict

pytestmark = pytest.mark.unit

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
FILED = NOW - timedelta(days=1)
ORDER = "111-1111111-1111111"


def claim(
    kind: ClaimKind = ClaimKind.A_TO_Z, reason: ClaimReason = ClaimReason.ITEM_NOT_RECEIVED
) -> Claim:
    return Claim.file(
        seller_id="S1",
        amazon_order_id=ORDER,
        kind=kind,
        reason=reason,
        amount=Money(Decimal("10"), "USD"),
        filed_at=FILED,
        now=NOW,
    )


def decided(c: Claim, decision: Decision) -> Claim:
    c.decide(decision=decision, decided_at=NOW, now=NOW)
    return c


def facts(**kw: object) -> OrderFacts:
    return OrderFacts(ORDER, "S1", known=True, **kw)  # type: ignore[arg-type]


def shipped(*, on_time: bool, buy_shipping: bool) -> tuple[ShipmentFact, ...]:
    return (
        ShipmentFact(
            shipment_id="s1",
            carrier_code="UPS",
            tracking_number="1Z",
            ship_date=NOW - timedelta(days=5),
            on_time=on_time,
            is_buy_shipping=buy_shipping,
            valid_tracking=True,
        ),
    )


PROTECTED = facts(shipments=shipped(on_time=True, buy_shipping=True))


def rule(c: Claim, f: OrderFacts | None = None) -> tuple[bool, str]:
    v = claim_verdict(c, f)
    assert v.description
    return v.counts, v.rule


# --- A-to-z -----------------------------------------------------------------------------------


def test_open_a_to_z_counts_provisionally() -> None:
    assert rule(claim()) == (True, "a_to_z.open_provisional")
    assert rule(claim(), facts()) == (True, "a_to_z.open_provisional")


def test_a_to_z_refunded_after_filing_counts() -> None:
    refund = RefundFact("r1", "CustomerReturn", Money(Decimal("10"), "USD"), FILED + timedelta(1))
    assert rule(claim(), facts(refunds=(refund,))) == (True, "a_to_z.refunded_after_filing")
    earlier = RefundFact("r0", "CustomerReturn", Money(Decimal("10"), "USD"), FILED - timedelta(1))
    assert rule(claim(), facts(refunds=(earlier,))) == (True, "a_to_z.open_provisional")


def test_a_to_z_on_order_canceled_by_seller_counts() -> None:
    cancel = CancellationFact("NoInventory", "seller", False, NOW - timedelta(days=3))
    assert rule(claim(), facts(cancellation=cancel)) == (True, "a_to_z.order_canceled")
    by_buyer = CancellationFact("CustomerCancel", "buyer", True, NOW - timedelta(days=3))
    assert rule(claim(), facts(cancellation=by_buyer)) == (True, "a_to_z.open_provisional")


def test_denied_a_to_z_does_not_count() -> None:
    assert rule(decided(claim(), Decision.DENIED)) == (False, "a_to_z.denied")


def test_withdrawn_a_to_z_does_not_count() -> None:
    assert rule(decided(claim(), Decision.WITHDRAWN)) == (False, "a_to_z.withdrawn")


def test_amazon_funded_grant_does_not_count() -> None:
    c = decided(
        claim(ClaimKind.A_TO_Z, ClaimReason.NOT_AS_DESCRIBED), Decision.GRANTED_AMAZON_FUNDED
    )
    assert rule(c) == (False, "a_to_z.amazon_funded")


def test_seller_funded_grant_counts() -> None:
    c = decided(claim(), Decision.GRANTED_SELLER_FUNDED)
    assert rule(c, facts()) == (True, "a_to_z.granted_seller_funded")


def test_delivery_claim_on_on_time_buy_shipping_order_is_protected() -> None:
    c = decided(claim(), Decision.GRANTED_SELLER_FUNDED)
    assert rule(c, PROTECTED) == (False, "a_to_z.buy_shipping_protected")
    assert rule(claim(), PROTECTED) == (False, "a_to_z.buy_shipping_protected")


def test_buy_shipping_protection_needs_on_time_buy_shipping_and_a_delivery_claim() -> None:
    late = facts(shipments=shipped(on_time=False, buy_shipping=True))
    own_label = facts(shipments=shipped(on_time=True, buy_shipping=False))
    granted = Decision.GRANTED_SELLER_FUNDED
    assert rule(decided(claim(), granted), late)[1] == "a_to_z.granted_seller_funded"
    assert rule(decided(claim(), granted), own_label)[1] == "a_to_z.granted_seller_funded"
    snad = decided(claim(ClaimKind.A_TO_Z, ClaimReason.NOT_AS_DESCRIBED), granted)
    assert rule(snad, PROTECTED)[1] == "a_to_z.granted_seller_funded"


def test_pending_appeal_still_counts() -> None:
    c = decided(claim(), Decision.GRANTED_SELLER_FUNDED)
    c.appeal(now=NOW)
    assert rule(c) == (True, "a_to_z.appeal_pending")


def test_appeal_won_does_not_count_and_appeal_lost_does() -> None:
    won = decided(claim(), Decision.GRANTED_SELLER_FUNDED)
    won.appeal(now=NOW)
    won.decide_appeal(outcome=AppealOutcome.OVERTURNED, decided_at=NOW, now=NOW)
    assert rule(won) == (False, "a_to_z.appeal_won")
    lost = decided(claim(), Decision.GRANTED_SELLER_FUNDED)
    lost.appeal(now=NOW)
    lost.decide_appeal(outcome=AppealOutcome.UPHELD, decided_at=NOW, now=NOW)
    assert rule(lost) == (True, "a_to_z.appeal_lost")


# --- chargebacks ------------------------------------------------------------------------------


def test_open_chargeback_counts_provisionally() -> None:
    cb = claim(ClaimKind.CHARGEBACK, ClaimReason.NOT_RECEIVED)
    assert rule(cb) == (True, "chargeback.open_provisional")
    assert rule(cb, PROTECTED) == (True, "chargeback.open_provisional")


@pytest.mark.parametrize(
    ("decision", "expected"),
    [
        (Decision.DENIED, (False, "chargeback.decided_for_seller")),
        (Decision.WITHDRAWN, (False, "chargeback.withdrawn")),
        (Decision.GRANTED_SELLER_FUNDED, (True, "chargeback.granted")),
        (Decision.GRANTED_AMAZON_FUNDED, (True, "chargeback.granted")),
    ],
)
def test_decided_chargebacks(decision: Decision, expected: tuple[bool, str]) -> None:
    assert rule(decided(claim(ClaimKind.CHARGEBACK, ClaimReason.UNAUTHORIZED), decision)) == (
        expected
    )


def test_chargeback_reversed_on_appeal_does_not_count() -> None:
    cb = decided(
        claim(ClaimKind.CHARGEBACK, ClaimReason.UNAUTHORIZED), Decision.GRANTED_SELLER_FUNDED
    )
    cb.appeal(now=NOW)
    cb.decide_appeal(outcome=AppealOutcome.OVERTURNED, decided_at=NOW, now=NOW)
    assert rule(cb) == (False, "chargeback.appeal_won")


# --- feedback ---------------------------------------------------------------------------------


def fb(rating: int) -> Feedback:
    return Feedback.receive(
        seller_id="S1", amazon_order_id=ORDER, rating=rating, comment=None, received_at=NOW, now=NOW
    )


@pytest.mark.parametrize("rating", [1, 2])
def test_negative_feedback_counts(rating: int) -> None:
    v = feedback_verdict(fb(rating))
    assert (v.counts, v.rule) == (True, "feedback.negative")


@pytest.mark.parametrize("rating", [3, 4, 5])
def test_neutral_and_positive_feedback_never_counts(rating: int) -> None:
    v = feedback_verdict(fb(rating))
    assert (v.counts, v.rule) == (False, "feedback.not_negative")


def test_removed_negative_feedback_does_not_count() -> None:
    f = fb(1)
    f.record_removal(removed=True, at=NOW, now=NOW)
    v = feedback_verdict(f)
    assert (v.counts, v.rule) == (False, "feedback.removed")
    denied = fb(2)
    denied.request_removal(reason="x", now=NOW)
    denied.record_removal(removed=False, at=NOW, now=NOW)
    assert feedback_verdict(denied).counts is True


def test_appeal_waiting_on_information_still_counts() -> None:
    c = decided(claim(), Decision.GRANTED_SELLER_FUNDED)
    c.appeal(now=NOW)
    c.request_information(requested_at=NOW, now=NOW)
    assert rule(c) == (True, "a_to_z.appeal_pending")
