"""The domain with a fixed clock: state machine, deadlines, filing, overdue flags, feedback."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from defects.domain import deadlines
from defects.domain.errors import DeadlinePassed, InvalidInput, InvalidTransition
from defects.domain.model import (
    AppealOutcome,
    Claim,
    ClaimKind,
    ClaimReason,
    Decision,
    Feedback,
    Money,
)
from defects.domain.state_machine import (
    CLAIM_TRANSITIONS,
    ClaimAction,
    ClaimStatus,
    FeedbackAction,
    FeedbackStatus,
    feedback_transition,
    transition,
)

pytestmark = pytest.mark.unit

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


def a_claim(kind: ClaimKind = ClaimKind.A_TO_Z, **kw: object) -> Claim:
    reason = ClaimReason.ITEM_NOT_RECEIVED if kind is ClaimKind.A_TO_Z else ClaimReason.UNAUTHORIZED
    args: dict[str, object] = {
        "seller_id": "S1",
        "amazon_order_id": "111-1111111-1111111",
        "kind": kind,
        "reason": reason,
        "amount": Money(Decimal("39.98"), "USD"),
        "filed_at": NOW - timedelta(hours=1),
        "now": NOW,
    }
    args.update(kw)
    return Claim.file(**args)  # type: ignore[arg-type]


# --- state machine ----------------------------------------------------------------------------


def test_every_listed_transition_is_allowed_and_lands_where_the_table_says() -> None:
    for (status, action), target in CLAIM_TRANSITIONS.items():
        assert transition(status, action) is target


@pytest.mark.parametrize("status", list(ClaimStatus))
@pytest.mark.parametrize("action", list(ClaimAction))
def test_every_unlisted_transition_raises(status: ClaimStatus, action: ClaimAction) -> None:
    if (status, action) in CLAIM_TRANSITIONS:
        return
    with pytest.raises(InvalidTransition) as err:
        transition(status, action)
    assert status.value in str(err.value) and action.value in str(err.value)


def test_appeal_decided_is_final() -> None:
    assert not [k for k in CLAIM_TRANSITIONS if k[0] is ClaimStatus.APPEAL_DECIDED]


def test_feedback_machine() -> None:
    assert feedback_transition(FeedbackStatus.ACTIVE, FeedbackAction.REQUEST_REMOVAL) is (
        FeedbackStatus.REMOVAL_REQUESTED
    )
    assert feedback_transition(FeedbackStatus.REMOVAL_REQUESTED, FeedbackAction.REMOVE) is (
        FeedbackStatus.REMOVED
    )
    with pytest.raises(InvalidTransition):
        feedback_transition(FeedbackStatus.REMOVED, FeedbackAction.REQUEST_REMOVAL)


# --- filing -----------------------------------------------------------------------------------


def test_filing_checks_reason_against_kind_and_refuses_future_or_naive_times() -> None:
    with pytest.raises(InvalidInput) as err:
        a_claim(reason=ClaimReason.UNAUTHORIZED)
    assert err.value.field == "reason"
    with pytest.raises(InvalidInput) as err:
        a_claim(filed_at=NOW + timedelta(hours=1))
    assert err.value.field == "filed_at"
    with pytest.raises(InvalidInput):
        a_claim(filed_at=datetime(2026, 11, 26, 11, 0))


def test_new_claim_is_open_version_1() -> None:
    claim = a_claim()
    assert (claim.status, claim.version) == (ClaimStatus.OPEN, 1)


# --- deadlines --------------------------------------------------------------------------------


def test_a_to_z_claim_has_nothing_due_on_filing() -> None:
    assert a_claim().due_at is None


def test_chargeback_is_due_7_calendar_days_after_filing() -> None:
    filed = NOW - timedelta(days=2)
    claim = a_claim(ClaimKind.CHARGEBACK, filed_at=filed)
    assert claim.due_at == filed + timedelta(days=7)
    assert not claim.is_overdue(NOW)
    assert claim.is_overdue(filed + timedelta(days=7, seconds=1))


def test_information_request_is_due_in_48_hours_and_responding_clears_it() -> None:
    claim = a_claim(filed_at=NOW - timedelta(days=1))
    asked = NOW - timedelta(hours=10)
    claim.request_information(requested_at=asked, now=NOW)
    assert claim.status is ClaimStatus.INFORMATION_REQUESTED
    assert claim.due_at == asked + timedelta(hours=48)
    claim.respond(now=NOW)
    assert (claim.status, claim.due_at) == (ClaimStatus.RESPONDED, None)


def test_responding_to_a_chargeback_stops_its_clock() -> None:
    claim = a_claim(ClaimKind.CHARGEBACK)
    claim.respond(now=NOW)
    assert claim.due_at is None and not claim.is_overdue(NOW + timedelta(days=30))


def test_overdue_is_flagged_once_per_deadline_and_bumps_the_version() -> None:
    claim = a_claim(ClaimKind.CHARGEBACK, filed_at=NOW - timedelta(days=8))
    assert claim.flag_overdue(now=NOW) is True
    assert claim.version == 2 and claim.overdue_flagged_for == claim.due_at
    assert claim.flag_overdue(now=NOW + timedelta(hours=1)) is False
    claim.request_information(requested_at=NOW, now=NOW)  # a new deadline
    assert claim.flag_overdue(now=NOW + timedelta(hours=47)) is False
    assert claim.flag_overdue(now=NOW + timedelta(hours=49)) is True


def test_nothing_due_means_never_overdue() -> None:
    claim = a_claim()
    assert claim.flag_overdue(now=NOW + timedelta(days=365)) is False


def test_appeal_within_30_days_of_a_grant() -> None:
    claim = a_claim(filed_at=NOW - timedelta(days=40))
    granted = NOW - timedelta(days=29)
    claim.decide(decision=Decision.GRANTED_SELLER_FUNDED, decided_at=granted, now=NOW)
    assert deadlines.appeal_deadline(claim) == granted + timedelta(days=30)
    claim.appeal(now=NOW)
    assert claim.status is ClaimStatus.APPEALED and claim.version == 3


def test_appeal_after_30_days_is_refused() -> None:
    claim = a_claim(filed_at=NOW - timedelta(days=40))
    granted = NOW - timedelta(days=30, minutes=1)
    claim.decide(decision=Decision.GRANTED_SELLER_FUNDED, decided_at=granted, now=NOW)
    with pytest.raises(DeadlinePassed):
        claim.appeal(now=NOW)
    assert claim.status is ClaimStatus.DECIDED and claim.version == 2


@pytest.mark.parametrize("decision", [Decision.DENIED, Decision.WITHDRAWN])
def test_only_grants_can_be_appealed(decision: Decision) -> None:
    claim = a_claim()
    claim.decide(decision=decision, decided_at=NOW, now=NOW)
    assert deadlines.appeal_deadline(claim) is None
    with pytest.raises(InvalidTransition, match="Only a granted claim"):
        claim.appeal(now=NOW)


def test_full_lifecycle_versions_and_appeal_decision() -> None:
    claim = a_claim()
    claim.respond(now=NOW)
    claim.start_review()
    claim.decide(decision=Decision.GRANTED_SELLER_FUNDED, decided_at=NOW, now=NOW)
    claim.appeal(now=NOW)
    claim.decide_appeal(outcome=AppealOutcome.OVERTURNED, decided_at=NOW, now=NOW)
    assert claim.status is ClaimStatus.APPEAL_DECIDED and claim.version == 6
    with pytest.raises(InvalidTransition):
        claim.respond(now=NOW)


def test_decision_in_the_future_is_refused_without_changing_the_case() -> None:
    claim = a_claim()
    with pytest.raises(InvalidInput) as err:
        claim.decide(decision=Decision.DENIED, decided_at=NOW + timedelta(days=1), now=NOW)
    assert err.value.field == "decided_at" and claim.status is ClaimStatus.OPEN


# --- feedback ---------------------------------------------------------------------------------


def test_feedback_rating_range_and_removal_flow() -> None:
    with pytest.raises(InvalidInput):
        Feedback.receive(
            seller_id="S1", amazon_order_id="o", rating=6, comment=None, received_at=NOW, now=NOW
        )
    fb = Feedback.receive(
        seller_id="S1", amazon_order_id="o", rating=1, comment="late", received_at=NOW, now=NOW
    )
    assert fb.is_negative and fb.status is FeedbackStatus.ACTIVE
    fb.request_removal(reason="contains seller-irrelevant content", now=NOW)
    fb.record_removal(removed=True, at=NOW, now=NOW)
    assert (fb.status, fb.removed_at, fb.version) == (FeedbackStatus.REMOVED, NOW, 3)
    assert isinstance(fb.id, uuid.UUID)


def test_information_request_on_an_appeal_is_due_in_72_hours_and_returns_to_appealed() -> None:
    claim = a_claim()
    claim.decide(decision=Decision.GRANTED_SELLER_FUNDED, decided_at=NOW, now=NOW)
    claim.appeal(now=NOW)
    claim.request_information(requested_at=NOW, now=NOW)
    assert claim.status is ClaimStatus.APPEAL_INFORMATION_REQUESTED
    assert claim.due_at == NOW + timedelta(hours=72)
    assert not claim.is_overdue(NOW + timedelta(hours=71))
    claim.respond(now=NOW)
    assert (claim.status, claim.due_at) == (ClaimStatus.APPEALED, None)
    claim.request_information(requested_at=NOW, now=NOW)
    claim.decide_appeal(outcome=AppealOutcome.UPHELD, decided_at=NOW, now=NOW)
    assert claim.status is ClaimStatus.APPEAL_DECIDED and claim.due_at is None


def test_steps_dated_before_filing_are_refused() -> None:
    claim = a_claim()
    before = claim.filed_at - timedelta(minutes=1)
    with pytest.raises(InvalidInput) as err:
        claim.request_information(requested_at=before, now=NOW)
    assert err.value.field == "requested_at" and claim.status is ClaimStatus.OPEN
    with pytest.raises(InvalidInput):
        claim.decide(decision=Decision.DENIED, decided_at=before, now=NOW)
    assert claim.version == 1
