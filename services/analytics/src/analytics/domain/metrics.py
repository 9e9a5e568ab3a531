"""Amazon's account-health metrics computed from our own events: pure formulas and the status rule.

Windows are closed intervals ``[as_of - days, as_of]`` on the date each metric names.

Status rule (one rule for every metric, see ``status_of``):
- the *allowed failure* of a metric is its threshold for "lower is better" metrics (ODR < 1%:
  1%) and ``1 - threshold`` for "higher is better" ones (valid tracking >= 95%: 5%);
- ``good``: the target is met;
- ``at_risk``: the target is missed by less than 25% of the allowed failure
  (ODR in [1%, 1.25%), valid tracking in (93.75%, 95%); ``Target.bands`` spells it out);
- ``critical``: missed by 25% of the allowed failure or more;
- ``insufficient_data``: nothing to measure (denominator 0, or no data source).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
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

    def holds(self, moment: datetime | None) -> bool:
        return moment is not None and self.start <= moment <= self.end


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


# --- the facts the formulas read -------------------------------------------------------------


@dataclass(frozen=True)
class ShipmentFact:
    shipment_id: str
    ship_date: datetime
    on_time: bool
    valid_tracking: bool


@dataclass(frozen=True)
class DefectFact:
    kind: str  # a_to_z, chargeback or negative_feedback
    counts_toward_odr: bool


@dataclass(frozen=True)
class OrderFacts:
    """Everything analytics knows of one order, merged across topics."""

    amazon_order_id: str
    channel: str | None  # AFN or MFN
    purchase_date: datetime | None
    latest_ship_date: datetime | None = None
    canceled: bool = False
    canceled_by: str | None = None
    buyer_requested_cancel: bool = False
    ship_late_flagged: bool = False
    shipments: tuple[ShipmentFact, ...] = ()
    defects: tuple[DefectFact, ...] = ()

    @property
    def shipped(self) -> bool:
        return bool(self.shipments)

    @property
    def first_ship_date(self) -> datetime | None:
        return min((s.ship_date for s in self.shipments), default=None)


# --- the formulas ----------------------------------------------------------------------------

DEFECT_KINDS = ("a_to_z", "chargeback", "negative_feedback")
SELLER_SIDE = ("seller", "amazon")  # who cancels against the seller's cancel rate


def order_defect_rate(orders: Iterable[OrderFacts], channel: str, as_of: datetime) -> Metric:
    window = Window.ending(as_of, 60, "purchase_date")
    scoped = [o for o in orders if o.channel == channel and window.holds(o.purchase_date)]
    defective = [o for o in scoped if any(d.counts_toward_odr for d in o.defects)]
    breakdown = {
        kind: sum(
            1 for o in defective if any(d.counts_toward_odr and d.kind == kind for d in o.defects)
        )
        for kind in DEFECT_KINDS
    }
    return Metric(
        name="order_defect_rate",
        scope=channel,
        numerator=len(defective),
        denominator=len(scoped),
        window=window,
        target=ODR_TARGET,
        breakdown=breakdown,
        definition=(
            f"{channel} orders purchased in the window with at least one A-to-z claim, chargeback "
            "or negative feedback that counts toward ODR (an order counts once; the breakdown "
            "counts an order under each kind it has) / all those orders"
        ),
    )


def late_shipment_rate(orders: Iterable[OrderFacts], days: int, as_of: datetime) -> Metric:
    window = Window.ending(as_of, days, "latest_ship_date")
    scoped = [o for o in _fbm(orders) if _lsr_reference(o, window)]
    late = [o for o in scoped if o.ship_late_flagged or any(not s.on_time for s in o.shipments)]
    return Metric(
        name="late_shipment_rate",
        scope=f"{days}d",
        numerator=len(late),
        denominator=len(scoped),
        window=window,
        target=LSR_TARGET,
        definition=(
            "MFN orders due to ship in the window (latest_ship_date in it; the first ship date "
            "when there is none), not canceled before shipping, whose shipment was confirmed "
            "after latest_ship_date or that fulfillment flagged order.ship_late / those orders"
        ),
    )


def _lsr_reference(order: OrderFacts, window: Window) -> bool:
    if order.canceled and not order.shipped:
        return False
    return window.holds(order.latest_ship_date or order.first_ship_date)


def pre_fulfillment_cancel_rate(orders: Iterable[OrderFacts], as_of: datetime) -> Metric:
    window = Window.ending(as_of, 7, "purchase_date")
    scoped = [o for o in _fbm(orders) if window.holds(o.purchase_date)]
    canceled = [
        o
        for o in scoped
        if o.canceled
        and not o.shipped
        and not o.buyer_requested_cancel
        and o.canceled_by in SELLER_SIDE
    ]
    return Metric(
        name="pre_fulfillment_cancel_rate",
        scope="MFN",
        numerator=len(canceled),
        denominator=len(scoped),
        window=window,
        target=CANCEL_TARGET,
        definition=(
            "MFN orders purchased in the window that fulfillment.v1 reports canceled before "
            "shipping by the seller or by Amazon's auto-cancel, buyer-requested cancels excluded "
            "/ all MFN orders purchased in the window"
        ),
    )


def valid_tracking_rate(orders: Iterable[OrderFacts], as_of: datetime) -> Metric:
    window = Window.ending(as_of, 30, "ship_date")
    shipments = [s for o in _fbm(orders) for s in o.shipments if window.holds(s.ship_date)]
    valid = [s for s in shipments if s.valid_tracking]
    return Metric(
        name="valid_tracking_rate",
        scope="MFN",
        numerator=len(valid),
        denominator=len(shipments),
        window=window,
        target=VTR_TARGET,
        definition=(
            "MFN shipments confirmed in the window whose tracking number is valid for the "
            "carrier / all MFN shipments confirmed in the window"
        ),
    )


def on_time_delivery_rate(as_of: datetime) -> Metric:
    return Metric(
        name="on_time_delivery_rate",
        scope="MFN",
        numerator=0,
        denominator=0,
        window=Window.ending(as_of, 14, "latest_delivery_date"),
        target=OTD_TARGET,
        definition="MFN tracked packages delivered by latest_delivery_date / tracked packages",
        status_override=Status.INSUFFICIENT_DATA,
        note=(
            "No event contract carries carrier delivery scans, so delivery dates are unknown: "
            "the rate cannot be computed from our events."
        ),
    )


def account_health(orders: Sequence[OrderFacts], as_of: datetime) -> list[Metric]:
    """Every metric, in the order the API shows them."""
    return [
        order_defect_rate(orders, "MFN", as_of),
        order_defect_rate(orders, "AFN", as_of),
        late_shipment_rate(orders, 10, as_of),
        late_shipment_rate(orders, 30, as_of),
        pre_fulfillment_cancel_rate(orders, as_of),
        valid_tracking_rate(orders, as_of),
        on_time_delivery_rate(as_of),
    ]


def _fbm(orders: Iterable[OrderFacts]) -> list[OrderFacts]:
    return [o for o in orders if o.channel == "MFN"]
