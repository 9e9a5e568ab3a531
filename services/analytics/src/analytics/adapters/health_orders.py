"""The account-health rollup (``orm.health_orders``, docs/adr/0059): one row per order, what
the four read-model tables say about it merged into the facts the health metrics count. A row
is one seller's: each seller's rows about an order id are merged apart from another's, so no
seller's figures count another seller's rows (as every read of analytics is by seller).

The consumer recomputes the rows of the orders a batch touched (``REFRESH``), after writing
them and under their lock, in the batch's transaction; the row is a function of the read models
alone, so a replay or a stale event recomputes the same row. ``merged_sql`` over every order
is the rollup from scratch (the migration's backfill, the tests' recomputation).

Per order, the sources have a fixed precedence: the order (orders.v1), then fulfillment's order
row, then its shipments, then its defect cases; where several shipments or cases of one order
disagree, the least value (min) is taken. An order is known from any of the four.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, or_, select, text, true

from analytics.adapters import orm
from analytics.domain.metrics import (
    CANCEL_DAYS,
    CANCELED,
    CHANNELS,
    DEFECT_KINDS,
    LSR_DAYS,
    ODR_DAYS,
    SELLER_SIDE,
    Window,
)

KEY = ("amazon_order_id", "seller_id")
FACTS = (
    "channel",
    "purchase_date",
    "due_date",
    "due",
    "late",
    "seller_cancel",
    "defective",
    *(f"has_{kind}" for kind in DEFECT_KINDS),
)
_SIDE = ", ".join(f"'{who}'" for who in SELLER_SIDE)
_KINDS = ",\n           ".join(
    f"bool_or(counts_toward_odr AND kind = '{k}') AS has_{k}" for k in DEFECT_KINDS
)
_HAS = ",\n       ".join(f"coalesce(c.has_{k}, false) AS has_{k}" for k in DEFECT_KINDS)


def merged_sql(where: str) -> str:
    """The rows of the orders whose rows match ``where`` (on each of the four tables' columns:
    ``amazon_order_id``), columns ``KEY`` then ``FACTS``."""
    return f"""
WITH s AS (
    SELECT amazon_order_id, seller_id, min(fulfillment_channel) AS channel,
           min(latest_ship_date) AS latest_ship_date, min(ship_date) AS first_ship_date,
           bool_or(NOT on_time) AS shipped_late
    FROM shipments WHERE {where} GROUP BY amazon_order_id, seller_id
), c AS (
    SELECT amazon_order_id, seller_id, min(fulfillment_channel) AS channel,
           min(order_purchase_date) AS purchase_date, bool_or(counts_toward_odr) AS defective,
           {_KINDS}
    FROM defect_cases WHERE {where} GROUP BY amazon_order_id, seller_id
), o AS (
    SELECT * FROM orders WHERE {where}
), f AS (
    SELECT * FROM fulfillment_orders WHERE {where}
), ids AS (
    SELECT amazon_order_id, seller_id FROM o UNION SELECT amazon_order_id, seller_id FROM f
    UNION SELECT amazon_order_id, seller_id FROM s
    UNION SELECT amazon_order_id, seller_id FROM c
), m AS (
    SELECT ids.amazon_order_id, ids.seller_id,
           coalesce(o.fulfillment_channel, f.fulfillment_channel, s.channel, c.channel)
               AS channel,
           coalesce(o.purchase_date, f.purchase_date, c.purchase_date) AS purchase_date,
           coalesce(o.latest_ship_date, f.latest_ship_date, s.latest_ship_date,
                    s.first_ship_date) AS due_date,
           f.canceled_at IS NOT NULL OR coalesce(o.order_status = '{CANCELED}', false)
               AS canceled,
           s.amazon_order_id IS NOT NULL AS shipped,
           coalesce(f.cancel_buyer_requested, false)
               OR coalesce(o.is_buyer_requested_cancel, false) AS buyer_requested,
           coalesce(f.canceled_by IN ({_SIDE}), false) AS by_seller_side,
           f.ship_late_at IS NOT NULL OR coalesce(s.shipped_late, false) AS late,
           coalesce(c.defective, false) AS defective,
           {_HAS}
    FROM ids
    LEFT JOIN o USING (amazon_order_id, seller_id)
    LEFT JOIN f USING (amazon_order_id, seller_id)
    LEFT JOIN s USING (amazon_order_id, seller_id)
    LEFT JOIN c USING (amazon_order_id, seller_id)
)
SELECT amazon_order_id, seller_id, channel, purchase_date, due_date,
       NOT (canceled AND NOT shipped) AS due, late,
       canceled AND NOT shipped AND NOT buyer_requested AND by_seller_side AS seller_cancel,
       defective, {", ".join(f"has_{k}" for k in DEFECT_KINDS)}
FROM m
"""


_COLUMNS = ", ".join((*KEY, *FACTS))
_CHANGED = " OR ".join(f"health_orders.{f} IS DISTINCT FROM excluded.{f}" for f in FACTS)

# The rows of the orders ``:ids``, recomputed; a row whose facts did not change is not written.
REFRESH = text(
    f"""
INSERT INTO health_orders ({_COLUMNS})
{merged_sql("amazon_order_id = ANY(CAST(:ids AS text[]))")}
ON CONFLICT (amazon_order_id, seller_id) DO UPDATE SET
{", ".join(f"{f} = excluded.{f}" for f in FACTS)}
WHERE {_CHANGED}
"""
)

BACKFILL = f"INSERT INTO health_orders ({_COLUMNS}) {merged_sql('TRUE')}"


Within = Callable[[Any, int], Any]  # (a date column, a window's days): the rows to count


def window(as_of: datetime) -> Within:
    """The whole window ``[as_of - days, as_of]`` (closed; NULL never is in it)."""

    def within(moment: Any, days: int) -> Any:
        w = Window.ending(as_of, days, by="")
        return moment.between(w.start, w.end)

    return within


def counts_statement(seller_id: str, within: Within) -> Any:
    """What the order-based metrics count of the seller's rows ``within`` each window: those
    purchased in the purchase-date windows and those due in the ship-by windows, each found
    through its index (so the rows read are the windows', not the seller's history)."""
    h = orm.health_orders.c
    mfn = h.channel == "MFN"

    def count(label: str, *where: Any) -> Any:
        return func.count().filter(and_(*where)).label(label)

    odr = []
    in_odr = within(h.purchase_date, ODR_DAYS)
    for ch in CHANNELS:
        scoped = (h.channel == ch, in_odr)
        odr += [count(f"odr_{ch}_of", *scoped), count(f"odr_{ch}", *scoped, h.defective)]
        odr += [count(f"odr_{ch}_{k}", *scoped, h[f"has_{k}"]) for k in DEFECT_KINDS]
    week = within(h.purchase_date, CANCEL_DAYS)
    purchased = (
        select(
            *odr,
            count("cancel_of", mfn, week),
            count("cancel", mfn, week, h.seller_cancel),
        )
        .where(h.seller_id == seller_id, or_(in_odr, week))
        .subquery()
    )
    lsr, windows = [], []
    for days in LSR_DAYS:
        windows.append(in_window := within(h.due_date, days))
        lsr += [count(f"lsr_{days}_of", in_window), count(f"lsr_{days}", in_window, h.late)]
    due = select(*lsr).where(h.seller_id == seller_id, or_(*windows), mfn, h.due).subquery()
    return select(purchased, due).select_from(purchased.join(due, true()))  # one row each
