"""The status rule, and the metrics built from hand-made counts (no I/O; the counting rules are
tested against PostgreSQL in test_health_counts_integration.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from analytics.domain.errors import InvalidTransition
from analytics.domain.metrics import (
    CANCEL_TARGET,
    LSR_TARGET,
    ODR_TARGET,
    VTR_TARGET,
    DeliveryCounts,
    HealthCounts,
    Ratio,
    Status,
    account_health,
    on_time_delivery_rate,
    status_of,
    valid_tracking_rate,
)
from analytics.domain.state_machine import AlertState, Trigger, transition, trigger_for

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


def test_metrics_are_built_from_the_counts_in_the_order_the_api_shows_them() -> None:
    counts = HealthCounts(
        odr={"MFN": Ratio(2, 11), "AFN": Ratio(0, 4)},
        odr_by_kind={
            "MFN": {"a_to_z": 1, "chargeback": 1, "negative_feedback": 1},
            "AFN": {"a_to_z": 0, "chargeback": 0, "negative_feedback": 0},
        },
        late_shipment={10: Ratio(2, 4), 30: Ratio(3, 7)},
        pre_fulfillment_cancel=Ratio(1, 40),
    )
    delivery = DeliveryCounts(Ratio(29, 30), {"delivered_late": 1}, Ratio(19, 20))  # 96.7%: at risk
    metrics = account_health(counts, delivery, NOW)
    assert [(m.name, m.scope, m.numerator, m.denominator, m.status) for m in metrics] == [
        ("order_defect_rate", "MFN", 2, 11, Status.CRITICAL),
        ("order_defect_rate", "AFN", 0, 4, Status.GOOD),
        ("late_shipment_rate", "10d", 2, 4, Status.CRITICAL),
        ("late_shipment_rate", "30d", 3, 7, Status.CRITICAL),
        ("pre_fulfillment_cancel_rate", "MFN", 1, 40, Status.AT_RISK),
        ("valid_tracking_rate", "MFN", 19, 20, Status.GOOD),
        ("on_time_delivery_rate", "MFN", 29, 30, Status.AT_RISK),
    ]
    assert metrics[0].breakdown == {"a_to_z": 1, "chargeback": 1, "negative_feedback": 1}
    assert metrics[0].value == Decimal("0.1818")
    windows = [(m.window.days, m.window.by, m.window.start, m.window.end) for m in metrics]
    assert windows[0] == (60, "purchase_date", NOW - 60 * D, NOW)
    assert [w[:2] for w in windows[2:7]] == [
        (10, "latest_ship_date"),
        (30, "latest_ship_date"),
        (7, "purchase_date"),
        (30, "latest_delivery_date"),
        (14, "latest_delivery_date"),
    ]
    assert metrics[5].breakdown == {"without_scan": 1}
    assert metrics[6].breakdown == {"delivered_late": 1}


def test_without_a_carrier_scan_delivery_metrics_say_so_and_carry_no_status() -> None:
    unscanned = DeliveryCounts(Ratio(0, 0), {}, Ratio(0, 12))
    vtr = valid_tracking_rate(unscanned, NOW)
    otd = on_time_delivery_rate(unscanned, NOW)
    for metric in (vtr, otd):
        assert (metric.value, metric.status) == (None, Status.INSUFFICIENT_DATA)
        assert metric.note is not None and "POST /v1/tracking-events" in metric.note
    assert vtr.breakdown == {"without_scan": 12}
    # one scanned shipment of twelve: measured, and critical (1/12 is far below 95%)
    one = valid_tracking_rate(DeliveryCounts(Ratio(0, 0), {}, Ratio(1, 12)), NOW)
    assert (one.value, one.status, one.note) == (Decimal("0.0833"), Status.CRITICAL, None)
    # on-time delivery: 97% is the target, and exactly 97 of 100 meets it
    met = on_time_delivery_rate(DeliveryCounts(Ratio(97, 100), {}, Ratio(0, 0)), NOW)
    assert met.status is Status.GOOD


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
