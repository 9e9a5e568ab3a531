"""The status rule and the metric formulas, on hand-made facts (no I/O)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from analytics.domain.alerts import AlertState, Trigger, transition, trigger_for
from analytics.domain.errors import InvalidTransition
from analytics.domain.metrics import (
    CANCEL_TARGET,
    LSR_TARGET,
    ODR_TARGET,
    VTR_TARGET,
    DefectFact,
    OrderFacts,
    ShipmentFact,
    Status,
    late_shipment_rate,
    order_defect_rate,
    pre_fulfillment_cancel_rate,
    status_of,
    valid_tracking_rate,
)

pytestmark = pytest.mark.unit

NOW = datetime(2026, 6, 30, 12, tzinfo=UTC)
D = timedelta(days=1)


@pytest.mark.parametrize(
    ("numerator", "denominator", "expected"),
    [
        (0, 100, Status.GOOD),
        (99, 10_000, Status.GOOD),  # 0.99% < 1%
        (1, 100, Status.AT_RISK),  # exactly 1%: the target "< 1%" is missed
        (124, 10_000, Status.AT_RISK),  # 1.24%: missed by less than 25% of 1%
        (125, 10_000, Status.CRITICAL),  # 1.25%
        (5, 100, Status.CRITICAL),
        (0, 0, Status.INSUFFICIENT_DATA),
    ],
)
def test_status_rule_for_a_below_target(numerator: int, denominator: int, expected: Status) -> None:
    assert status_of(numerator, denominator, ODR_TARGET) is expected


@pytest.mark.parametrize(
    ("numerator", "denominator", "expected"),
    [
        (95, 100, Status.GOOD),  # exactly 95% meets ">= 95%"
        (100, 100, Status.GOOD),
        (9_376, 10_000, Status.AT_RISK),  # 93.76%: short by 1.24 points, less than 25% of 5
        (9_375, 10_000, Status.CRITICAL),  # 93.75%: short by 25% of the allowed 5%
        (50, 100, Status.CRITICAL),
    ],
)
def test_status_rule_for_an_at_least_target(
    numerator: int, denominator: int, expected: Status
) -> None:
    assert status_of(numerator, denominator, VTR_TARGET) is expected


def test_bands_document_the_rule() -> None:
    assert LSR_TARGET.bands() == {
        "good": "value < 0.04",
        "at_risk": "0.04 <= value < 0.0500",
        "critical": "value >= 0.0500",
    }
    assert VTR_TARGET.bands()["critical"] == "value <= 0.9375"
    assert status_of(1, 40, CANCEL_TARGET) is Status.AT_RISK  # 2.5% is not < 2.5%


def _order(oid: str, **kw: object) -> OrderFacts:
    base: dict[str, object] = {"channel": "MFN", "purchase_date": NOW - 2 * D}
    return OrderFacts(amazon_order_id=oid, **(base | kw))  # type: ignore[arg-type]


def test_odr_counts_an_order_with_several_defects_once_and_splits_by_kind() -> None:
    orders = [
        _order("a", defects=(DefectFact("a_to_z", True), DefectFact("negative_feedback", True))),
        _order("b", defects=(DefectFact("chargeback", True),)),
        _order("c", defects=(DefectFact("a_to_z", False),)),
        _order("d"),
        _order("e", purchase_date=NOW - 61 * D, defects=(DefectFact("a_to_z", True),)),
        _order("f", channel="AFN", defects=(DefectFact("a_to_z", True),)),
    ]
    metric = order_defect_rate(orders, "MFN", NOW)
    assert (metric.numerator, metric.denominator, metric.value) == (2, 4, Decimal("0.5000"))
    assert metric.breakdown == {"a_to_z": 1, "chargeback": 1, "negative_feedback": 1}
    assert order_defect_rate(orders, "AFN", NOW).numerator == 1


def test_window_edges_are_included() -> None:
    on_edge = _order("edge", purchase_date=NOW - 60 * D, defects=(DefectFact("a_to_z", True),))
    just_out = _order("out", purchase_date=NOW - 60 * D - timedelta(seconds=1))
    metric = order_defect_rate([on_edge, just_out], "MFN", NOW)
    assert (metric.numerator, metric.denominator) == (1, 1)


def test_late_shipment_rate_uses_ship_by_date_and_skips_unshipped_cancels() -> None:
    late_ship = ShipmentFact("s1", NOW - 2 * D, on_time=False, valid_tracking=True)
    on_time = ShipmentFact("s2", NOW - 3 * D, on_time=True, valid_tracking=True)
    orders = [
        _order("late", latest_ship_date=NOW - 3 * D, shipments=(late_ship,)),
        _order("ok", latest_ship_date=NOW - 3 * D, shipments=(on_time,)),
        _order("flagged", latest_ship_date=NOW - 1 * D, ship_late_flagged=True),
        _order("canceled", latest_ship_date=NOW - 1 * D, canceled=True, canceled_by="seller"),
        _order("old", latest_ship_date=NOW - 11 * D, ship_late_flagged=True),
    ]
    ten = late_shipment_rate(orders, 10, NOW)
    assert (ten.numerator, ten.denominator) == (2, 3)
    thirty = late_shipment_rate(orders, 30, NOW)
    assert (thirty.numerator, thirty.denominator) == (3, 4)


def test_cancel_rate_excludes_buyer_requested_and_counts_amazon_auto_cancels() -> None:
    orders = [
        _order("seller", canceled=True, canceled_by="seller"),
        _order("amazon", canceled=True, canceled_by="amazon"),
        _order("buyer", canceled=True, canceled_by="buyer", buyer_requested_cancel=True),
        _order("asked", canceled=True, canceled_by="seller", buyer_requested_cancel=True),
        _order("kept"),
        _order("old", purchase_date=NOW - 8 * D, canceled=True, canceled_by="seller"),
        _order("fba", channel="AFN", canceled=True, canceled_by="seller"),
        _order("unknown", canceled=True),  # Canceled on orders.v1 only: who canceled is unknown
    ]
    metric = pre_fulfillment_cancel_rate(orders, NOW)
    assert (metric.numerator, metric.denominator) == (2, 6)


def test_valid_tracking_rate_counts_mfn_shipments_in_window() -> None:
    good = ShipmentFact("g", NOW - D, on_time=True, valid_tracking=True)
    bad = ShipmentFact("b", NOW - D, on_time=True, valid_tracking=False)
    old = ShipmentFact("o", NOW - 31 * D, on_time=True, valid_tracking=False)
    orders = [
        _order("one", shipments=(good, bad)),
        _order("two", shipments=(old,)),
        _order("fba", channel="AFN", shipments=(ShipmentFact("f", NOW, True, False),)),
    ]
    metric = valid_tracking_rate(orders, NOW)
    assert (metric.numerator, metric.denominator, metric.status) == (1, 2, Status.CRITICAL)


def test_alert_transitions_raise_once_and_clear_when_good() -> None:
    assert trigger_for(False, Status.AT_RISK) is Trigger.CROSSED
    assert trigger_for(True, Status.CRITICAL) is None  # already raised: not again
    assert trigger_for(True, Status.GOOD) is Trigger.RECOVERED
    assert trigger_for(True, Status.INSUFFICIENT_DATA) is None
    assert trigger_for(False, Status.GOOD) is None
    assert transition(AlertState.NONE, Trigger.CROSSED) is AlertState.ACTIVE
    assert transition(AlertState.ACTIVE, Trigger.RECOVERED) is AlertState.CLEARED
    with pytest.raises(InvalidTransition):
        transition(AlertState.CLEARED, Trigger.RECOVERED)
