"""The account-health rollup by day (``orm.health_days``, docs/adr/0059): per seller, kind, UTC
day and channel, the counts of the health rollup's orders (``health_orders``) by purchase date
(kind ``purchase``) and by ship-by date (``due``: MFN orders not canceled before shipping), and
of the MFN shipments by promised delivery date (``promised``: the latest delivery date, else
the ship date).

A window ``[as_of - days, as_of]`` is counted as its whole UTC days, from these rows, plus its
two partial days at either end (``Pieces``), from the per-order rows and the shipments through
their indexes: the rows read are about a hundred rollup rows and two days' orders, whatever the
seller's history or rate.

Kept as ``daily_sales`` is (docs/adr/0055): the consumer takes what a batch's orders add
(``CONTRIBUTIONS``) before it projects them and again after, and adds the difference (``ADD``),
under the orders' lock, in the batch's transaction; a replay adds nothing.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import and_, or_, text

from analytics.domain.metrics import (
    CANCEL_DAYS,
    CHANNELS,
    DEFECT_KINDS,
    LSR_DAYS,
    ODR_DAYS,
    OTD_DAYS,
    VTR_DAYS,
)

KEY = ("seller_id", "kind", "day", "channel")  # the primary key, in its order
FIGURES = (
    "orders",
    "defective",
    *DEFECT_KINDS,
    "seller_cancel",
    "late",
    "scanned",
    "otd_of",
    "otd",
    "delivered_late",
    "no_delivery_scan",
    "tracking_after_delivery",
)

_CHANNELS = ", ".join(f"'{c}'" for c in CHANNELS)


def _figures(**given: str) -> str:
    return ", ".join(f"{given.get(f, '0')} AS {f}" for f in FIGURES)


def _day(column: str) -> str:
    return f"({column} AT TIME ZONE 'UTC')::date"


def contributions_sql(where: str) -> str:
    """What the orders matching ``where`` (on ``amazon_order_id`` of ``health_orders`` and
    ``shipments``) add to the rollup, one row per key (columns ``KEY`` then ``FIGURES``)."""
    kinds = {k: f"count(*) FILTER (WHERE has_{k})" for k in DEFECT_KINDS}
    otd_of = "latest_delivery_date IS NOT NULL AND first_scan_at IS NOT NULL"
    in_time = "delivered_at IS NOT NULL AND delivered_at <= latest_delivery_date"
    given_before = "coalesce(tracking_given_at, ship_date) <= delivered_at"
    return f"""
SELECT seller_id, 'purchase' AS kind, {_day("purchase_date")} AS day, channel,
       {
        _figures(
            orders="count(*)",
            defective="count(*) FILTER (WHERE defective)",
            seller_cancel="count(*) FILTER (WHERE seller_cancel)",
            **kinds,
        )
    }
FROM health_orders
WHERE ({where}) AND channel IN ({_CHANNELS}) AND purchase_date IS NOT NULL
GROUP BY 1, 2, 3, 4
UNION ALL
SELECT seller_id, 'due', {_day("due_date")}, channel,
       {_figures(orders="count(*)", late="count(*) FILTER (WHERE late)")}
FROM health_orders
WHERE ({where}) AND channel = 'MFN' AND due AND due_date IS NOT NULL
GROUP BY 1, 2, 3, 4
UNION ALL
SELECT seller_id, 'promised', {_day("coalesce(latest_delivery_date, ship_date)")}, 'MFN',
       {
        _figures(
            orders="count(*)",
            scanned="count(*) FILTER (WHERE first_scan_at IS NOT NULL)",
            otd_of=f"count(*) FILTER (WHERE {otd_of})",
            otd=f"count(*) FILTER (WHERE {otd_of} AND {in_time} AND {given_before})",
            delivered_late=(
                f"count(*) FILTER (WHERE {otd_of} AND delivered_at IS NOT NULL AND NOT ({in_time}))"
            ),
            no_delivery_scan=f"count(*) FILTER (WHERE {otd_of} AND delivered_at IS NULL)",
            tracking_after_delivery=(
                f"count(*) FILTER (WHERE {otd_of} AND {in_time} AND NOT ({given_before}))"
            ),
        )
    }
FROM shipments
WHERE ({where}) AND coalesce(fulfillment_channel, 'MFN') = 'MFN'
GROUP BY 1, 2, 3, 4
"""


CONTRIBUTIONS = text(contributions_sql("amazon_order_id = ANY(CAST(:ids AS text[]))"))
BACKFILL = f"INSERT INTO health_days ({', '.join(KEY + FIGURES)}) {contributions_sql('TRUE')}"

ADD = text(
    f"""
INSERT INTO health_days ({", ".join(KEY + FIGURES)})
SELECT {", ".join(KEY + FIGURES)} FROM unnest(
    CAST(:seller_id AS text[]), CAST(:kind AS text[]), CAST(:day AS date[]),
    CAST(:channel AS text[]), {", ".join(f"CAST(:{f} AS bigint[])" for f in FIGURES)}
) WITH ORDINALITY AS d({", ".join(KEY + FIGURES)}, n) ORDER BY n
ON CONFLICT ({", ".join(KEY)}) DO UPDATE SET
{", ".join(f"{f} = health_days.{f} + excluded.{f}" for f in FIGURES)}
"""
)

READ = text(
    f"""
SELECT kind, channel, day, {", ".join(FIGURES)} FROM health_days
WHERE seller_id = :seller_id AND kind = ANY(CAST(:kinds AS text[]))
  AND day >= :first AND day < :last
"""
)


def as_rows(figures: dict[tuple[Any, ...], tuple[Any, ...]]) -> dict[str, list[Any]]:
    """The parameters of ``ADD``: one list per column, rows in key order."""
    params: dict[str, list[Any]] = {name: [] for name in KEY + FIGURES}
    for key in sorted(figures, key=lambda k: [str(v) for v in k]):
        for name, value in zip(KEY + FIGURES, (*key, *figures[key]), strict=True):
            params[name].append(value)
    return params


@dataclass(frozen=True)
class Pieces:
    """The windows ending at ``as_of`` cut at UTC midnights: window ``days`` is its whole days
    ``[first_day(days), last_day)`` (from the rollup) and two partial pieces, ``[start,
    first midnight)`` and ``[last midnight, as_of]`` (from the rows themselves)."""

    as_of: datetime

    @property
    def midnight(self) -> datetime:
        """The last UTC midnight at or before ``as_of``."""
        at = self.as_of.astimezone(UTC)
        return datetime.combine(at.date(), time(), UTC)

    def start(self, days: int) -> datetime:
        return self.as_of - timedelta(days=days)

    def first_midnight(self, days: int) -> datetime:
        """The first UTC midnight at or after the window's start."""
        start = self.start(days).astimezone(UTC)
        midnight = datetime.combine(start.date(), time(), UTC)
        return midnight if midnight == start else midnight + timedelta(days=1)

    def first_day(self, days: int) -> date:
        return self.first_midnight(days).date()

    @property
    def last_day(self) -> date:
        """The first day not read from the rollup (``as_of``'s own, partial)."""
        return self.midnight.date()

    def edge(self, moment: Any, days: int) -> Any:
        """``moment`` in the window's partial pieces (NULL never is)."""
        return or_(
            and_(moment >= self.start(days), moment < self.first_midnight(days)),
            and_(moment >= self.midnight, moment <= self.as_of),
        )

    def whole(self, day: date, days: int) -> bool:
        """``day`` is one of the window's whole days."""
        return self.first_day(days) <= day < self.last_day


def sums(
    rows: Iterable[Any], pieces: Pieces, kind: str, days: int, channel: str = "MFN"
) -> dict[str, int]:
    """The rollup's figures of ``kind`` and ``channel`` over the window's whole days."""
    total = dict.fromkeys(FIGURES, 0)
    for row in rows:
        if row.kind == kind and row.channel == channel and pieces.whole(row.day, days):
            for name in FIGURES:
                total[name] += int(getattr(row, name))
    return total


def health_figures(rows: list[Any], pieces: Pieces) -> dict[str, int]:
    """The labels of ``health_orders.counts_statement``, over the windows' whole days."""
    found: dict[str, int] = {}
    for ch in CHANNELS:
        odr = sums(rows, pieces, "purchase", ODR_DAYS, ch)
        found |= {f"odr_{ch}_of": odr["orders"], f"odr_{ch}": odr["defective"]}
        found |= {f"odr_{ch}_{k}": odr[k] for k in DEFECT_KINDS}
    cancel = sums(rows, pieces, "purchase", CANCEL_DAYS)
    found |= {"cancel_of": cancel["orders"], "cancel": cancel["seller_cancel"]}
    for days in LSR_DAYS:
        lsr = sums(rows, pieces, "due", days)
        found |= {f"lsr_{days}_of": lsr["orders"], f"lsr_{days}": lsr["late"]}
    return found


def delivery_figures(rows: list[Any], pieces: Pieces) -> dict[str, int]:
    """The labels of ``delivery``'s statement, over the windows' whole days."""
    otd = sums(rows, pieces, "promised", OTD_DAYS)
    vtr = sums(rows, pieces, "promised", VTR_DAYS)
    late = ("delivered_late", "no_delivery_scan", "tracking_after_delivery")
    return {
        "otd_of": otd["otd_of"],
        "otd": otd["otd"],
        **{reason: otd[reason] for reason in late},
        "vtr_of": vtr["orders"],
        "vtr": vtr["scanned"],
    }


LONGEST = max(ODR_DAYS, CANCEL_DAYS, *LSR_DAYS, OTD_DAYS, VTR_DAYS)
HEALTH_KINDS = ["purchase", "due"]  # what ``health_figures`` sums
DELIVERY_KINDS = ["promised"]  # what ``delivery_figures`` sums
