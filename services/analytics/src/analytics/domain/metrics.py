"""Amazon's account-health metrics computed from our own events: the status rule, and each
metric built from the counts it is made of (``HealthCounts``).

Windows are closed intervals ``[as_of - days, as_of]`` on the date each metric names.

Status rule (one rule for every metric, see ``status_of``):
- the *allowed failure* of a metric is its threshold for "lower is better" metrics (ODR < 1%:
  1%) and ``1 - threshold`` for "higher is better" ones (valid tracking >= 95%: 5%);
- ``good``: the target is met;
- ``at_risk``: the target is missed by less than 25% of the allowed failure
  (ODR in [1%, 1.25%), valid tracking in (93.75%, 95%); ``Target.bands`` spells it out);
- ``critical``: missed by 25% of the allowed failure or more;
- ``insufficient_data``: nothing to measure (denominator 0, or no data source).

On-time delivery and valid tracking are counted from the carriers' scans of the seller's
parcels (fulfillment's ``POST /v1/tracking-events``, ``shipment.scanned`` on fulfillment.v1),
as Amazon counts them (docs/adr/0051-account-health-as-amazon-measures-it.md): without a scan
they have no data, and say so, rather than a status.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum

AT_RISK_MARGIN = Decimal("0.25")
PLACES = Decimal("0.0001")


class Status(StrEnum):
    GOOD = "good"
    AT_RISK = "at_risk"
    CRITICAL = "critical"
    INSUFFICIENT_DATA = "insufficient_data"


class Direction(StrEnum):
    BELOW = "below"  # the value must stay below the threshold
    AT_LEAST = "at_least"  # the value must be at least the threshold


@dataclass(frozen=True)
class Target:
    threshold: Decimal
    direction: Direction

    def bands(self) -> dict[str, str]:
        """Where each status starts, as shown in responses."""
        if self.direction is Direction.BELOW:
            critical = self.threshold * (1 + AT_RISK_MARGIN)
            return {
                "good": f"value < {self.threshold}",
                "at_risk": f"{self.threshold} <= value < {critical}",
                "critical": f"value >= {critical}",
            }
        critical = self.threshold - (1 - self.threshold) * AT_RISK_MARGIN
        return {
            "good": f"value >= {self.threshold}",
            "at_risk": f"{critical} < value < {self.threshold}",
            "critical": f"value <= {critical}",
        }


ODR_TARGET = Target(Decimal("0.01"), Direction.BELOW)
LSR_TARGET = Target(Decimal("0.04"), Direction.BELOW)
CANCEL_TARGET = Target(Decimal("0.025"), Direction.BELOW)
VTR_TARGET = Target(Decimal("0.95"), Direction.AT_LEAST)
OTD_TARGET = Target(Decimal("0.97"), Direction.AT_LEAST)


def status_of(numerator: int, denominator: int, target: Target) -> Status:
    """The status of ``numerator / denominator`` against ``target`` (exact, no rounding)."""
    if denominator <= 0:
        return Status.INSUFFICIENT_DATA
    value = Decimal(numerator) / Decimal(denominator)
    if target.direction is Direction.BELOW:
        miss = value - target.threshold
        allowed = target.threshold
        if miss < 0:
            return Status.GOOD
    else:
        miss = target.threshold - value
        allowed = 1 - target.threshold
        if miss <= 0:
            return Status.GOOD
    return Status.AT_RISK if miss < allowed * AT_RISK_MARGIN else Status.CRITICAL


def rate(numerator: int, denominator: int) -> Decimal | None:
    if denominator <= 0:
        return None
    return (Decimal(numerator) / Decimal(denominator)).quantize(PLACES, rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class Window:
    days: int
    start: datetime
    end: datetime
    by: str

    @classmethod
    def ending(cls, as_of: datetime, days: int, by: str) -> Window:
        return cls(days=days, start=as_of - timedelta(days=days), end=as_of, by=by)


@dataclass(frozen=True)
class Metric:
    name: str
    scope: str
    numerator: int
    denominator: int
    window: Window
    target: Target
    definition: str
    breakdown: dict[str, int] = field(default_factory=dict)
    status_override: Status | None = None
    note: str | None = None

    @property
    def value(self) -> Decimal | None:
        return None if self.status_override else rate(self.numerator, self.denominator)

    @property
    def status(self) -> Status:
        if self.status_override is not None:
            return self.status_override
        return status_of(self.numerator, self.denominator, self.target)


# --- what the formulas count ----------------------------------------------------------------

ODR_DAYS = 60
LSR_DAYS = (10, 30)
CANCEL_DAYS = 7
VTR_DAYS = 30
OTD_DAYS = 14
CANCELED = "Canceled"  # orders.v1 order_status of a canceled order
CHANNELS = ("MFN", "AFN")
DEFECT_KINDS = ("a_to_z", "chargeback", "negative_feedback")
SELLER_SIDE = ("seller", "amazon")  # who cancels against the seller's cancel rate


@dataclass(frozen=True)
class Ratio:
    numerator: int
    denominator: int


@dataclass(frozen=True)
class HealthCounts:
    """The counts of one seller's orders the metrics are made of, at one ``as_of``.

    Each metric's ``definition`` says what it counts; ``adapters.repository.Reads.health_counts``
    counts it in PostgreSQL, from the health rollup (``adapters.health_orders``).
    """

    odr: Mapping[str, Ratio]  # by channel: defective orders / orders
    odr_by_kind: Mapping[str, Mapping[str, int]]  # by channel, then kind: orders with that kind
    late_shipment: Mapping[int, Ratio]  # by window days: late orders / orders due
    pre_fulfillment_cancel: Ratio


@dataclass(frozen=True)
class DeliveryCounts:
    """The seller's MFN shipments as the carriers' scans tell them (``Reads.delivery_counts``),
    by promised delivery date (the order's ``latest_delivery_date``)."""

    on_time_delivery: Ratio  # delivered on time / with a physical scan, promised in OTD_DAYS
    late_delivery: Mapping[str, int]  # why the others were not on time
    valid_tracking: Ratio  # with a physical scan / all, promised in VTR_DAYS

    @classmethod
    def none(cls) -> DeliveryCounts:
        return cls(Ratio(0, 0), {}, Ratio(0, 0))


# --- the metrics -----------------------------------------------------------------------------


def order_defect_rate(counts: HealthCounts, channel: str, as_of: datetime) -> Metric:
    odr = counts.odr[channel]
    return Metric(
        name="order_defect_rate",
        scope=channel,
        numerator=odr.numerator,
        denominator=odr.denominator,
        window=Window.ending(as_of, ODR_DAYS, "purchase_date"),
        target=ODR_TARGET,
        breakdown=dict(counts.odr_by_kind[channel]),
        definition=(
            f"{channel} orders purchased in the window with at least one A-to-z claim, chargeback "
            "or negative feedback that counts toward ODR (an order counts once; the breakdown "
            "counts an order under each kind it has) / all those orders"
        ),
    )


def late_shipment_rate(counts: HealthCounts, days: int, as_of: datetime) -> Metric:
    lsr = counts.late_shipment[days]
    return Metric(
        name="late_shipment_rate",
        scope=f"{days}d",
        numerator=lsr.numerator,
        denominator=lsr.denominator,
        window=Window.ending(as_of, days, "latest_ship_date"),
        target=LSR_TARGET,
        definition=(
            "MFN orders due to ship in the window (latest_ship_date in it; the first ship date "
            "when there is none), not canceled before shipping, whose shipment was confirmed "
            "after latest_ship_date or that fulfillment flagged order.ship_late / those orders"
        ),
    )


def pre_fulfillment_cancel_rate(counts: HealthCounts, as_of: datetime) -> Metric:
    return Metric(
        name="pre_fulfillment_cancel_rate",
        scope="MFN",
        numerator=counts.pre_fulfillment_cancel.numerator,
        denominator=counts.pre_fulfillment_cancel.denominator,
        window=Window.ending(as_of, CANCEL_DAYS, "purchase_date"),
        target=CANCEL_TARGET,
        definition=(
            "MFN orders purchased in the window that fulfillment.v1 reports canceled before "
            "shipping by the seller or by Amazon's auto-cancel, buyer-requested cancels excluded "
            "/ all MFN orders purchased in the window"
        ),
    )


NO_SCANS = (
    "No carrier scan was received for these shipments, so the rate cannot be measured: post "
    "the carriers' scans (or a tracking aggregator's) to fulfillment's POST /v1/tracking-events."
)


def valid_tracking_rate(delivery: DeliveryCounts, as_of: datetime) -> Metric:
    vtr = delivery.valid_tracking
    unmeasured = vtr.numerator == 0
    return Metric(
        name="valid_tracking_rate",
        scope="MFN",
        numerator=vtr.numerator,
        denominator=vtr.denominator,
        window=Window.ending(as_of, VTR_DAYS, "latest_delivery_date"),
        target=VTR_TARGET,
        breakdown={"without_scan": vtr.denominator - vtr.numerator},
        definition=(
            "MFN shipments promised for delivery in the window (the order's "
            "latest_delivery_date; the ship date when there is none) with at least one physical "
            "carrier scan (any status but pre_transit) / all those shipments"
        ),
        status_override=Status.INSUFFICIENT_DATA if unmeasured else None,
        note=NO_SCANS if unmeasured else None,
    )


def on_time_delivery_rate(delivery: DeliveryCounts, as_of: datetime) -> Metric:
    otd = delivery.on_time_delivery
    return Metric(
        name="on_time_delivery_rate",
        scope="MFN",
        numerator=otd.numerator,
        denominator=otd.denominator,
        window=Window.ending(as_of, OTD_DAYS, "latest_delivery_date"),
        target=OTD_TARGET,
        breakdown=dict(delivery.late_delivery),
        definition=(
            "MFN shipments promised for delivery in the window (latest_delivery_date) with at "
            "least one physical carrier scan, whose first delivered scan is at or before "
            "latest_delivery_date and after the seller gave the tracking number / all those "
            "shipments"
        ),
        note=NO_SCANS if otd.denominator == 0 else None,
    )


def account_health(counts: HealthCounts, delivery: DeliveryCounts, as_of: datetime) -> list[Metric]:
    """Every metric, in the order the API shows them."""
    return [
        *(order_defect_rate(counts, channel, as_of) for channel in CHANNELS),
        *(late_shipment_rate(counts, days, as_of) for days in LSR_DAYS),
        pre_fulfillment_cancel_rate(counts, as_of),
        valid_tracking_rate(delivery, as_of),
        on_time_delivery_rate(delivery, as_of),
    ]
