"""Account health as analytics counted it before the health rollup (docs/adr/0059): the one
statement over the seller's last ``HISTORY`` of rows in the four read-model tables, merged per
order, and the scans' statement over its shipments shipped in that time. The equivalence test
(test_health_rollup_integration.py) holds the route's answer to what these count, on the same
data.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Table, and_, false, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from analytics.adapters import orm
from analytics.domain.metrics import (
    CANCEL_DAYS,
    CANCELED,
    CHANNELS,
    DEFECT_KINDS,
    LSR_DAYS,
    ODR_DAYS,
    OTD_DAYS,
    SELLER_SIDE,
    VTR_DAYS,
    Window,
)

HISTORY = timedelta(days=120)
FULFILLMENT_DATES = ("purchase_date", "latest_ship_date", "canceled_at", "ship_late_at")
LATE_REASONS = ("delivered_late", "no_delivery_scan", "tracking_after_delivery")

Figures = dict[tuple[str, str], tuple[int, int, dict[str, int]]]


async def figures(session: AsyncSession, seller_id: str, as_of: datetime) -> Figures:
    """Each metric's (numerator, denominator, breakdown) at ``as_of``, by (name, scope)."""
    since = as_of - HISTORY
    n = (await session.execute(_health_counts(seller_id, as_of, since))).one()._mapping
    d = (await session.execute(_delivery(seller_id, as_of, since))).one()._mapping
    found: Figures = {}
    for ch in CHANNELS:
        kinds = {k: int(n[f"odr_{ch}_{k}"]) for k in DEFECT_KINDS}
        found[("order_defect_rate", ch)] = (int(n[f"odr_{ch}"]), int(n[f"odr_{ch}_of"]), kinds)
    for days in LSR_DAYS:
        found[("late_shipment_rate", f"{days}d")] = (
            int(n[f"lsr_{days}"]),
            int(n[f"lsr_{days}_of"]),
            {},
        )
    found[("pre_fulfillment_cancel_rate", "MFN")] = (int(n["cancel"]), int(n["cancel_of"]), {})
    vtr, vtr_of = int(d["vtr"]), int(d["vtr_of"])
    found[("valid_tracking_rate", "MFN")] = (vtr, vtr_of, {"without_scan": vtr_of - vtr})
    late = {reason: int(d[reason]) for reason in LATE_REASONS}
    found[("on_time_delivery_rate", "MFN")] = (int(d["otd"]), int(d["otd_of"]), late)
    return found


def _delivery(seller_id: str, as_of: datetime, since: datetime) -> Any:
    s = orm.shipments.c
    scanned = s.first_scan_at.is_not(None)
    otd_of = and_(_within(s.latest_delivery_date, as_of, OTD_DAYS), scanned)
    given = func.coalesce(s.tracking_given_at, s.ship_date)
    delivered = s.delivered_at.is_not(None)
    in_time = delivered & (s.delivered_at <= s.latest_delivery_date)
    given_before = given <= s.delivered_at
    vtr_of = _within(func.coalesce(s.latest_delivery_date, s.ship_date), as_of, VTR_DAYS)

    def count(label: str, *where: Any) -> Any:
        return func.count().filter(and_(*where)).label(label)

    return select(
        count("otd_of", otd_of),
        count("otd", otd_of, in_time, given_before),
        count("delivered_late", otd_of, delivered, ~in_time),
        count("no_delivery_scan", otd_of, ~delivered),
        count("tracking_after_delivery", otd_of, in_time, ~given_before),
        count("vtr_of", vtr_of),
        count("vtr", vtr_of, scanned),
    ).where(
        s.seller_id == seller_id,
        func.coalesce(s.fulfillment_channel, "MFN") == "MFN",
        s.ship_date >= since,
    )


# --- account health: one statement per seller evaluation -------------------------------------
#
# Per order, what the tables say is merged with a fixed precedence of sources: the order
# (orders.v1), then fulfillment's order row, then its shipments, then its defect cases; where
# several shipments or cases of one order disagree, the least value (min) is taken. An order is
# known from any of the four: rows count when one of their dates falls since ``since`` (or, for
# fulfillment rows and cases, when none of their dates is known).


def _health_counts(seller_id: str, as_of: datetime, since: datetime) -> Any:
    m = _merged_orders(seller_id, as_of, since).cte("merged")
    mfn = m.c.channel == "MFN"

    def count(label: str, *where: Any) -> Any:
        return func.count().filter(and_(*where)).label(label)

    odr = []
    for ch in CHANNELS:
        scoped = (m.c.channel == ch, _within(m.c.purchase_date, as_of, ODR_DAYS))
        odr += [count(f"odr_{ch}_of", *scoped), count(f"odr_{ch}", *scoped, m.c.defective)]
        odr += [count(f"odr_{ch}_{k}", *scoped, m.c[f"has_{k}"]) for k in DEFECT_KINDS]
    due = (mfn, ~(m.c.canceled & ~m.c.shipped))
    late = m.c.ship_late_flagged | m.c.shipped_late
    lsr = []
    for days in LSR_DAYS:
        in_window = _within(func.coalesce(m.c.latest_ship_date, m.c.first_ship_date), as_of, days)
        lsr += [
            count(f"lsr_{days}_of", *due, in_window),
            count(f"lsr_{days}", *due, in_window, late),
        ]
    purchased = (mfn, _within(m.c.purchase_date, as_of, CANCEL_DAYS))
    seller_side_cancel = (
        m.c.canceled,
        ~m.c.shipped,
        ~m.c.buyer_requested_cancel,
        m.c.canceled_by.in_(SELLER_SIDE),
    )
    return select(
        *odr,
        *lsr,
        count("cancel_of", *purchased),
        count("cancel", *purchased, *seller_side_cancel),
        func.coalesce(func.sum(m.c.vtr_shipments).filter(mfn), 0).label("vtr_of"),
        func.coalesce(func.sum(m.c.vtr_valid).filter(mfn), 0).label("vtr"),
    )


def _merged_orders(seller_id: str, as_of: datetime, since: datetime) -> Any:
    """One row per order of the seller, merged across the four tables.

    The shipments (one row per order) come first in the chain of full joins so that every
    further join meets a table with statistics: joining two derived relations on the order id,
    PostgreSQL estimated billions of rows and spent more than a second compiling the plan (JIT).
    """
    s = _shipments_per_order(seller_id, as_of, since).cte("s")
    o = _order_rows(seller_id, since).cte("o")
    f = _fulfillment_rows(seller_id, since).cte("f")
    c = _cases_per_order(seller_id, since).cte("c")
    joined = s.join(o, o.c.amazon_order_id == s.c.amazon_order_id, full=True)
    known = [s.c.amazon_order_id, o.c.amazon_order_id]
    for t in (f, c):
        joined = joined.join(t, t.c.amazon_order_id == func.coalesce(*known), full=True)
        known.append(t.c.amazon_order_id)
    no = false()
    return select(
        func.coalesce(
            o.c.fulfillment_channel, f.c.fulfillment_channel, s.c.channel, c.c.channel
        ).label("channel"),
        func.coalesce(o.c.purchase_date, f.c.purchase_date, c.c.purchase_date).label(
            "purchase_date"
        ),
        func.coalesce(o.c.latest_ship_date, f.c.latest_ship_date, s.c.latest_ship_date).label(
            "latest_ship_date"
        ),
        (f.c.canceled_at.is_not(None) | func.coalesce(o.c.order_status == CANCELED, no)).label(
            "canceled"
        ),
        f.c.canceled_by,
        (
            func.coalesce(f.c.cancel_buyer_requested, no)
            | func.coalesce(o.c.is_buyer_requested_cancel, no)
        ).label("buyer_requested_cancel"),
        f.c.ship_late_at.is_not(None).label("ship_late_flagged"),
        s.c.amazon_order_id.is_not(None).label("shipped"),
        s.c.first_ship_date,
        func.coalesce(s.c.shipped_late, no).label("shipped_late"),
        func.coalesce(s.c.vtr_shipments, 0).label("vtr_shipments"),
        func.coalesce(s.c.vtr_valid, 0).label("vtr_valid"),
        func.coalesce(c.c.defective, no).label("defective"),
        *(func.coalesce(c.c[f"has_{k}"], no).label(f"has_{k}") for k in DEFECT_KINDS),
    ).select_from(joined)


def _order_rows(seller_id: str, since: datetime) -> Any:
    o = orm.orders.c
    return select(
        o.amazon_order_id,
        o.fulfillment_channel,
        o.purchase_date,
        o.latest_ship_date,
        o.order_status,
        o.is_buyer_requested_cancel,
    ).where(_recent(orm.orders, seller_id, since, "purchase_date"))


def _fulfillment_rows(seller_id: str, since: datetime) -> Any:
    f = orm.fulfillment_orders.c
    return select(
        f.amazon_order_id,
        f.fulfillment_channel,
        f.purchase_date,
        f.latest_ship_date,
        f.canceled_at,
        f.canceled_by,
        f.cancel_buyer_requested,
        f.ship_late_at,
    ).where(_recent(orm.fulfillment_orders, seller_id, since, *FULFILLMENT_DATES))


def _recent(table: Table, seller_id: str, since: datetime, *dates: str) -> Any:
    """The seller's rows with any of ``dates`` since ``since`` (or, when all of them may be
    NULL, none of them known)."""
    c = table.c
    recent = or_(*(c[d] >= since for d in dates))
    if all(c[d].nullable for d in dates):
        recent = recent | and_(*(c[d].is_(None) for d in dates))
    return and_(c.seller_id == seller_id, recent)


def _shipments_per_order(seller_id: str, as_of: datetime, since: datetime) -> Any:
    s = orm.shipments.c
    in_window = _within(s.ship_date, as_of, VTR_DAYS)
    return (
        select(
            s.amazon_order_id,
            func.min(s.fulfillment_channel).label("channel"),
            func.min(s.latest_ship_date).label("latest_ship_date"),
            func.min(s.ship_date).label("first_ship_date"),
            func.bool_or(~s.on_time).label("shipped_late"),
            func.count().filter(in_window).label("vtr_shipments"),
            func.count().filter(in_window & s.valid_tracking).label("vtr_valid"),
        )
        .where(_recent(orm.shipments, seller_id, since, "ship_date"))
        .group_by(s.amazon_order_id)
    )


def _cases_per_order(seller_id: str, since: datetime) -> Any:
    d = orm.defect_cases.c
    counts = d.counts_toward_odr
    return (
        select(
            d.amazon_order_id,
            func.min(d.fulfillment_channel).label("channel"),
            func.min(d.order_purchase_date).label("purchase_date"),
            func.bool_or(counts).label("defective"),
            *(func.bool_or(counts & (d.kind == k)).label(f"has_{k}") for k in DEFECT_KINDS),
        )
        .where(_recent(orm.defect_cases, seller_id, since, "order_purchase_date"))
        .group_by(d.amazon_order_id)
    )


def _within(moment: Any, as_of: datetime, days: int) -> Any:
    """``moment`` in the closed window ``[as_of - days, as_of]`` (NULL never is)."""
    window = Window.ending(as_of, days, by="")
    return moment.between(window.start, window.end)
