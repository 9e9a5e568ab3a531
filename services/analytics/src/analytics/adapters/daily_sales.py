"""The SQL of the daily sales rollup (``orm.daily_sales``, docs/adr/0055).

``contributions`` is what a set of orders adds to the rollup, computed from the read models
(orders, their items, fulfillment's cancel): the consumer takes it for the orders it is about
to change, changes them, takes it again and adds the difference, in one transaction. The same
statement over every order is the rollup from scratch (the migration's backfill, the tests'
recomputation).

The rules are the sales report's (``service_layer.queries``): an order counts on the day of its
purchase on its marketplace's calendar (UTC for an unknown marketplace); canceled orders (by
their status or by fulfillment) and replacement orders are not sales; money stays in its
currency (the item's, else the order's, else its marketplace's).
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from sqlalchemy import TextClause, text

from shared import marketplaces

KINDS = ("order", "sku", "asin", "items", "sku_asin")
GRAINS = ("week", "month")  # each kind also kept by week and by month: long ranges read those
KEY = ("seller_id", "kind", "day", "currency_code", "dim1", "dim2")
FIGURES = ("orders", "units", "revenue", "canceled", "replacements")


def _case(column: str, values: dict[str, str], default: str) -> str:
    whens = " ".join(f"WHEN '{k}' THEN '{v}'" for k, v in sorted(values.items()))
    return f"CASE {column} {whens} ELSE {default} END"


_PLACES = marketplaces.MARKETPLACES.items()
_ZONE = _case("o.marketplace_id", {m: x.time_zone for m, x in _PLACES}, "'UTC'")
_CURRENCY = _case("o.marketplace_id", {m: x.currency_code for m, x in _PLACES}, "NULL")


def contributions_sql(where: str) -> str:
    """What the orders matching ``where`` (on ``orders o``) add to the rollup, one row per key
    (columns ``KEY`` then ``FIGURES``): by day, and the same summed by week and by month."""
    return f"WITH d AS ({daily_sql(where)}) SELECT * FROM d UNION ALL {coarser_sql('d')}"


def coarser_sql(daily: str) -> str:
    """The rows of the relation ``daily`` (rows by day) summed by week (kind ``<kind>/week``,
    ``day`` the Monday) and by month (``<kind>/month``, ``day`` the first)."""
    sums = ", ".join(f"sum({f})" for f in FIGURES)
    return " UNION ALL ".join(
        f"SELECT seller_id, kind || '/{grain}', date_trunc('{grain}', day)::date, "
        f"currency_code, dim1, dim2, {sums} FROM {daily} "
        f"WHERE kind NOT LIKE '%/%' GROUP BY 1, 2, 3, 4, 5, 6"
        for grain in GRAINS
    )


def daily_sql(where: str) -> str:
    """What the orders matching ``where`` add to the rollup by day."""
    return f"""
WITH o AS (
    SELECT o.amazon_order_id, o.seller_id,
           (o.purchase_date AT TIME ZONE {_ZONE})::date AS day,
           coalesce(nullif(o.currency_code, ''), {_CURRENCY}, 'n/a') AS currency_code,
           coalesce(o.marketplace_id, '') AS marketplace_id,
           coalesce(o.fulfillment_channel, '') AS channel,
           o.units, coalesce(o.order_total, 0) AS total,
           (o.order_status = 'Canceled' OR f.canceled_at IS NOT NULL) AS canceled,
           o.is_replacement_order AS replacement
    FROM orders o LEFT JOIN fulfillment_orders f ON f.amazon_order_id = o.amazon_order_id
    WHERE {where}
), i AS (
    SELECT o.seller_id, o.day, o.amazon_order_id,
           coalesce(nullif(i.currency_code, ''), o.currency_code) AS currency_code,
           i.asin, nullif(i.seller_sku, '') AS seller_sku, i.quantity,
           coalesce(i.item_price, 0) AS price
    FROM o JOIN order_items i ON i.amazon_order_id = o.amazon_order_id
    WHERE NOT o.canceled AND NOT o.replacement
)
SELECT seller_id, 'order' AS kind, day, currency_code, marketplace_id AS dim1, channel AS dim2,
       count(*) FILTER (WHERE NOT canceled AND NOT replacement) AS orders,
       coalesce(sum(units) FILTER (WHERE NOT canceled AND NOT replacement), 0) AS units,
       coalesce(sum(total) FILTER (WHERE NOT canceled AND NOT replacement), 0) AS revenue,
       count(*) FILTER (WHERE canceled) AS canceled,
       count(*) FILTER (WHERE replacement AND NOT canceled) AS replacements
FROM o GROUP BY 1, 2, 3, 4, 5, 6
UNION ALL
SELECT seller_id, 'sku', day, currency_code, coalesce(seller_sku, asin), '',
       count(DISTINCT amazon_order_id), sum(quantity), sum(price), 0, 0
FROM i GROUP BY 1, 2, 3, 4, 5, 6
UNION ALL
SELECT seller_id, 'asin', day, currency_code, asin, '',
       count(DISTINCT amazon_order_id), sum(quantity), sum(price), 0, 0
FROM i GROUP BY 1, 2, 3, 4, 5, 6
UNION ALL
SELECT seller_id, 'items', day, currency_code, '', '',
       count(DISTINCT amazon_order_id), sum(quantity), sum(price), 0, 0
FROM i GROUP BY 1, 2, 3, 4, 5, 6
UNION ALL
SELECT seller_id, 'sku_asin', day, '', seller_sku, asin,
       count(DISTINCT amazon_order_id), sum(quantity), 0, 0, 0
FROM i WHERE seller_sku IS NOT NULL GROUP BY 1, 2, 3, 4, 5, 6
"""


CONTRIBUTIONS = text(contributions_sql("o.amazon_order_id = ANY(CAST(:ids AS text[]))"))

# Serialises the writers of one order's rows, and so of its shares of the rollups (this one and
# the health rollup, docs/adr/0059): taken for a batch's orders before any row is read, in one
# order, so two consumers never add a stale difference. (The key keeps its first name, so a
# consumer of the release before takes the same lock.)
LOCK_ORDERS = text(
    "SELECT pg_advisory_xact_lock(h) FROM ("
    "SELECT DISTINCT hashtextextended('daily_sales:' || id, 0) AS h "
    "FROM unnest(CAST(:ids AS text[])) AS id) AS keys ORDER BY h"
)

ADD = text(
    f"""
INSERT INTO daily_sales ({", ".join(KEY + FIGURES)})
SELECT {", ".join(KEY + FIGURES)} FROM unnest(
    CAST(:seller_id AS text[]), CAST(:kind AS text[]), CAST(:day AS date[]),
    CAST(:currency_code AS text[]), CAST(:dim1 AS text[]), CAST(:dim2 AS text[]),
    CAST(:orders AS bigint[]), CAST(:units AS bigint[]), CAST(:revenue AS numeric[]),
    CAST(:canceled AS bigint[]), CAST(:replacements AS bigint[])
) WITH ORDINALITY AS d({", ".join(KEY + FIGURES)}, n) ORDER BY n
ON CONFLICT ({", ".join(KEY)}) DO UPDATE SET
{", ".join(f"{f} = daily_sales.{f} + excluded.{f}" for f in FIGURES)}
"""
)


def read_sql(period: str | None, by_seller: bool) -> TextClause:
    """The rollup of one kind summed by period (``day``, ``week`` starting Monday, or ``None``:
    the whole range), currency and keys; only keys with figures left. Whole weeks or months
    inside the range (``:coarse`` over ``[:c_start, :c_end)``, see ``coarse_range``) are read
    from the coarser rows, the days around them from the daily ones."""
    column = {"day": "day", "week": "date_trunc('week', day)::date", None: "NULL::date"}[period]
    seller = "AND seller_id = :seller_id" if by_seller else ""
    sums = ", ".join(f"sum({f}) AS {f}" for f in FIGURES)
    return text(
        f"""
SELECT {column} AS period, currency_code, dim1, dim2, {sums}
FROM (
    SELECT * FROM daily_sales
    WHERE kind = :kind AND day BETWEEN :start AND :end AND (day < :c_start OR day >= :c_end)
    {seller}
    UNION ALL
    SELECT * FROM daily_sales
    WHERE kind = :coarse AND day >= :c_start AND day < :c_end {seller}
) AS rows
GROUP BY 1, 2, 3, 4
HAVING sum(orders) > 0 OR sum(canceled) > 0 OR sum(replacements) > 0
"""
    )


def coarse_range(period: str | None, start: date, end: date) -> tuple[str | None, date, date]:
    """The coarser grain a read of days ``start`` to ``end`` by ``period`` can use, and the
    whole buckets of it inside the range, ``[c_start, c_end)`` (empty when none)."""
    after = end + timedelta(days=1) if end < date.max else end  # the last day has no next
    if period == "week":
        first = start + timedelta(days=(7 - start.weekday()) % 7)
        last = after - timedelta(days=after.weekday())
        grain: str | None = "week"
    elif period is None:
        first = start if start.day == 1 else _next_month(start)
        last = after.replace(day=1)
        grain = "month"
    else:
        return None, start, start
    return (grain, first, last) if first < last else (None, start, start)


def _next_month(day: date) -> date:
    return (day.replace(day=28) + timedelta(days=4)).replace(day=1)


def as_rows(figures: dict[tuple[Any, ...], tuple[Any, ...]]) -> dict[str, list[Any]]:
    """The parameters of ``ADD``: one list per column, rows in key order."""
    keys = sorted(figures, key=lambda k: [str(v) for v in k])
    params: dict[str, list[Any]] = {name: [] for name in KEY + FIGURES}
    for key in keys:
        for name, value in zip(KEY + FIGURES, (*key, *figures[key]), strict=True):
            params[name].append(value)
    return params
