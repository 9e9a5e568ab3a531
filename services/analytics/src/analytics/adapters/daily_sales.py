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
MONEY = {"revenue", "spend", "attributed_sales"}  # the figures summed as numeric, not bigint


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


def coarser_sql(daily: str, key: tuple[str, ...] = KEY, figures: tuple[str, ...] = FIGURES) -> str:
    """The rows of the relation ``daily`` (rows by day: ``key`` begins with seller_id, kind,
    day) summed by week (kind ``<kind>/week``, ``day`` the Monday) and by month
    (``<kind>/month``, ``day`` the first)."""
    rest = ", ".join(key[3:])
    sums = ", ".join(f"sum({f})::{'numeric' if f in MONEY else 'bigint'}" for f in figures)
    by = ", ".join(str(n) for n in range(1, len(key) + 1))
    return " UNION ALL ".join(
        f"SELECT seller_id, kind || '/{grain}', date_trunc('{grain}', day)::date, "
        f"{rest}, {sums} FROM {daily} "
        f"WHERE kind NOT LIKE '%/%' GROUP BY {by}"
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
    the whole range), currency and keys; only keys with figures left. The range comes as its
    ``segments`` (``:kinds``, ``:los``, ``:his``): each piece read from the rows of its grain."""
    return text(
        f"""
SELECT {_PERIOD[period]} AS period, currency_code, dim1, dim2, {_SUMS}
FROM {segment_rows("daily_sales", by_seller)}
GROUP BY 1, 2, 3, 4
HAVING sum(orders) > 0 OR sum(canceled) > 0 OR sum(replacements) > 0
"""
    )


def keys_read_sql(kind: str, period: str | None, by_seller: bool) -> TextClause:
    """As ``read_sql``, for the keys whose dim1 is in ``:dim1`` alone, from the daily rows of
    days ``:start`` to ``:end`` (for ``sku``, through the index of its keys: a page of SKUs
    reads only its own rows)."""
    if kind not in KINDS:
        raise ValueError(f"no kind {kind!r}")
    seller = "AND seller_id = :seller_id" if by_seller else ""
    return text(
        f"""
SELECT {_PERIOD[period]} AS period, currency_code, dim1, dim2, {_SUMS}
FROM daily_sales
WHERE kind = '{kind}' AND dim1 = ANY(CAST(:dim1 AS text[])) AND day BETWEEN :start AND :end
{seller}
GROUP BY 1, 2, 3, 4
HAVING sum(orders) > 0 OR sum(canceled) > 0 OR sum(replacements) > 0
"""
    )


_PERIOD = {"day": "day", "week": "date_trunc('week', day)::date", None: "NULL::date"}
_SUMS = ", ".join(f"sum({f}) AS {f}" for f in FIGURES)


# The order of sales by SKU (docs/adr/0060): units sold first, the one figure comparable across
# currencies (revenue is never compared across them, docs/adr/0049), then orders, then the SKU
# and currency so that every entry has one place and a cursor one position.
SKU_ORDER = "units DESC, orders DESC, sku, currency_code"


def sku_page_sql(by_seller: bool, after: bool) -> TextClause:
    """One page of the rollup's ``sku`` kind summed by SKU and currency over a range (segments
    as ``read_sql``'s), in ``SKU_ORDER``: the first ``:limit`` after the entry whose sort key
    is ``:a_units, :a_orders, :a_sku, :a_currency`` (when ``after``)."""
    position = (
        "WHERE (-units, -orders, sku, currency_code) > "
        "(-CAST(:a_units AS bigint), -CAST(:a_orders AS bigint), "
        "CAST(:a_sku AS text), CAST(:a_currency AS text))"
        if after
        else ""
    )
    return text(
        f"""
SELECT * FROM (
    SELECT dim1 AS sku, currency_code, sum(orders)::bigint AS orders,
           sum(units)::bigint AS units, sum(revenue) AS revenue
    FROM {segment_rows("daily_sales", by_seller)}
    GROUP BY 1, 2
    HAVING sum(orders) > 0
) AS skus
{position}
ORDER BY {SKU_ORDER}
LIMIT :limit
"""
    )


def segment_rows(table: str, by_seller: bool) -> str:
    """The rows of a rollup ``table`` (``kind``, ``day``) in the pieces of a range, as a
    relation ``rows``: one index range scan a piece (parameters of ``segment_params``).
    ``OFFSET 0`` keeps the lateral subquery a subquery: flattened into a join, the planner
    hashed the pieces against a scan of all the seller's rows (docs/adr/0060)."""
    seller = "AND r.seller_id = :seller_id" if by_seller else ""
    return f"""unnest(CAST(:kinds AS text[]), CAST(:los AS date[]), CAST(:his AS date[]))
    AS s(kind, lo, hi)
CROSS JOIN LATERAL (
    SELECT r.* FROM {table} r
    WHERE r.kind = s.kind AND r.day >= s.lo AND r.day < s.hi {seller}
    OFFSET 0
) AS rows"""


def segment_params(kind: str, period: str | None, start: date, end: date) -> dict[str, Any]:
    pieces = segments(period, start, end)
    return {
        "kinds": [kind + grain for grain, _, _ in pieces],
        "los": [lo for _, lo, _ in pieces],
        "his": [hi for _, _, hi in pieces],
    }


def segments(period: str | None, start: date, end: date) -> list[tuple[str, date, date]]:
    """Days ``start`` to ``end`` (both included) cut into pieces ``(grain, lo, hi)``, half
    open, each read from the rows of one grain (``""`` days, ``"/week"``, ``"/month"``) whose
    buckets lie wholly inside the range: whole months first (a read of the whole range), then
    whole weeks in what is left, then the days around them (fewer than 13 at each end). A
    read by week takes weeks and days only; a read by day, days."""
    if end < start:
        return []
    grains: dict[str | None, list[str]] = {"day": [], "week": ["week"], None: ["month", "week"]}
    return _split(start, end + timedelta(days=1), grains[period])


def _split(lo: date, hi: date, grains: list[str]) -> list[tuple[str, date, date]]:
    if lo >= hi:
        return []
    if not grains:
        return [("", lo, hi)]
    grain, finer = grains[0], grains[1:]
    if grain == "week":
        first, after = lo + timedelta(days=(7 - lo.weekday()) % 7), hi - timedelta(hi.weekday())
    else:
        first, after = (lo if lo.day == 1 else _next_month(lo)), hi.replace(day=1)
    if first >= after:
        return _split(lo, hi, finer)
    return [*_split(lo, first, finer), (f"/{grain}", first, after), *_split(after, hi, finer)]


def _next_month(day: date) -> date:
    return (day.replace(day=28) + timedelta(days=4)).replace(day=1)


def as_rows(
    figures: dict[tuple[Any, ...], tuple[Any, ...]], columns: tuple[str, ...] = KEY + FIGURES
) -> dict[str, list[Any]]:
    """The parameters of ``ADD`` (``columns``: a rollup's key and figures): one list per
    column, rows in key order."""
    keys = sorted(figures, key=lambda k: [str(v) for v in k])
    params: dict[str, list[Any]] = {name: [] for name in columns}
    for key in keys:
        for name, value in zip(columns, (*key, *figures[key]), strict=True):
            params[name].append(value)
    return params
