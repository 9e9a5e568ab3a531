"""Amazon's own figure of each metric, beside Orderflow's, and whether the two disagree.

Amazon's figures come from its seller performance report (``account_health.amazon_reported``
on orders.v1), one per marketplace. The seller's figure is:

- with one marketplace, Amazon's ``rate`` as written, with its counts;
- with several, the sum of Amazon's numerators over the sum of its denominators (the counts
  are of orders or shipments, so the ratio of the sums is the rate over all of them), to
  ``PLACES``; each marketplace's own figure is listed beside it.

The rounding rule: a figure written with ``n`` decimals stands for every rate that rounds to it,
so it is uncertain by half a unit in its ``n``-th place (Orderflow's 4 places: 0.00005; Amazon's
``0.009``: 0.0005); a whole number (0, 1) is exact. The two figures *disagree* when they are
further apart than their two uncertainties together: no rate could round to both. With either
figure missing, nothing is compared (``None``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from analytics.domain.metrics import rate


@dataclass(frozen=True)
class Reported:
    """One marketplace's figure of one metric, as Amazon reported it."""

    marketplace_id: str
    value: Decimal | None
    numerator: int | None
    denominator: int | None
    status: str | None
    reporting_from: datetime | None
    reporting_to: datetime | None


@dataclass(frozen=True)
class AmazonFigure:
    value: Decimal | None
    numerator: int | None
    denominator: int | None
    disagrees: bool | None
    difference: Decimal | None  # Amazon's minus Orderflow's
    by_marketplace: tuple[Reported, ...] = field(default=())


def uncertainty(value: Decimal) -> Decimal:
    """Half a unit in the last decimal place written; 0 for a whole number."""
    exponent = value.as_tuple().exponent
    if not isinstance(exponent, int) or exponent >= 0:
        return Decimal(0)
    return Decimal(1).scaleb(exponent) / 2


def disagree(ours: Decimal | None, amazon: Decimal | None) -> bool | None:
    if ours is None or amazon is None:
        return None
    return abs(ours - amazon) > uncertainty(ours) + uncertainty(amazon)


def seller_figure(reported: Sequence[Reported], ours: Decimal | None) -> AmazonFigure | None:
    """Amazon's figure for the seller (``None`` when the report does not carry the metric)."""
    if not reported:
        return None
    if len(reported) == 1:
        one = reported[0]
        value, numerator, denominator = one.value, one.numerator, one.denominator
    else:
        counted = all(r.numerator is not None and r.denominator is not None for r in reported)
        numerator = sum(r.numerator or 0 for r in reported) if counted else None
        denominator = sum(r.denominator or 0 for r in reported) if counted else None
        value = rate(numerator, denominator) if numerator is not None and denominator else None
    return AmazonFigure(
        value=value,
        numerator=numerator,
        denominator=denominator,
        disagrees=disagree(ours, value),
        difference=None if ours is None or value is None else value - ours,
        by_marketplace=tuple(reported),
    )


def reported_by_metric(
    marketplaces: Sequence[Mapping[str, Any]],
) -> dict[tuple[str, str], list[Reported]]:
    """The report's figures by (metric name, scope), one entry per marketplace (the stored
    JSON of ``MarketplacePerformance``)."""
    found: dict[tuple[str, str], list[Reported]] = {}
    for market in marketplaces:
        for m in market.get("metrics", ()):
            found.setdefault((m["name"], m["scope"]), []).append(
                Reported(
                    marketplace_id=market["marketplace_id"],
                    value=None if m.get("rate") is None else Decimal(str(m["rate"])),
                    numerator=m.get("numerator"),
                    denominator=m.get("denominator"),
                    status=m.get("status"),
                    reporting_from=_moment(m.get("reporting_date_from")),
                    reporting_to=_moment(m.get("reporting_date_to")),
                )
            )
    return found


def _moment(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)
