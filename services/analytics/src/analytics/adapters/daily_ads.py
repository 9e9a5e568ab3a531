"""The SQL of the daily ads rollup (``orm.daily_ads``, docs/adr/0060).

One row per seller, kind (``ad``, and its sums ``ad/week`` and ``ad/month``), day, currency,
ASIN and SKU (``''`` for none) with the figures the ads summary reads. It is kept as the daily
sales rollup is (docs/adr/0055): the consumer locks the ad rows it is about to write, takes
their share (``CONTRIBUTIONS``), writes them, takes it again and adds the difference, in one
transaction; a replayed or older row is not written, so adds nothing. The same statement over
every ad row is the rollup from scratch (the migration's backfill, the tests' recomputation).
"""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import TextClause, text

from analytics.adapters.daily_sales import coarser_sql, segment_params, segment_rows

KEY = ("seller_id", "kind", "day", "currency_code", "asin", "seller_sku")
# ``ad_rows``: how many ad rows a key holds, so a key whose rows all moved away (a restatement
# in another currency) reads as absent, as it did from the ad rows themselves.
FIGURES = ("attributed_orders", "spend", "attributed_sales", "clicks", "impressions", "ad_rows")


def daily_sql(where: str) -> str:
    """What the ad rows matching ``where`` (on ``ad_performance``) add to the rollup by day."""
    return f"""
SELECT seller_id, 'ad' AS kind, date AS day, currency_code,
       coalesce(asin, '') AS asin, coalesce(seller_sku, '') AS seller_sku,
       sum(attributed_orders)::bigint AS attributed_orders, sum(spend) AS spend,
       sum(attributed_sales) AS attributed_sales, sum(clicks)::bigint AS clicks,
       sum(impressions)::bigint AS impressions, count(*) AS ad_rows
FROM ad_performance WHERE {where} GROUP BY 1, 2, 3, 4, 5, 6
"""


def contributions_sql(where: str) -> str:
    """What the ad rows matching ``where`` add to the rollup: by day, week and month."""
    return (
        f"WITH d AS ({daily_sql(where)}) SELECT * FROM d UNION ALL {coarser_sql('d', KEY, FIGURES)}"
    )


CONTRIBUTIONS = text(contributions_sql("subject = ANY(CAST(:subjects AS text[]))"))

# Serialises the writers of one ad row (a restatement on another consumer): taken before the
# share is read, so no other transaction moves the row in between.
LOCK_SUBJECTS = text(
    "SELECT pg_advisory_xact_lock(h) FROM ("
    "SELECT DISTINCT hashtextextended('daily_ads:' || s, 0) AS h "
    "FROM unnest(CAST(:subjects AS text[])) AS s) AS keys ORDER BY h"
)

ADD = text(
    f"""
INSERT INTO daily_ads ({", ".join(KEY + FIGURES)})
SELECT {", ".join(KEY + FIGURES)} FROM unnest(
    CAST(:seller_id AS text[]), CAST(:kind AS text[]), CAST(:day AS date[]),
    CAST(:currency_code AS text[]), CAST(:asin AS text[]), CAST(:seller_sku AS text[]),
    CAST(:attributed_orders AS bigint[]), CAST(:spend AS numeric[]),
    CAST(:attributed_sales AS numeric[]), CAST(:clicks AS bigint[]),
    CAST(:impressions AS bigint[]), CAST(:ad_rows AS bigint[])
) WITH ORDINALITY AS d({", ".join(KEY + FIGURES)}, n) ORDER BY n
ON CONFLICT ({", ".join(KEY)}) DO UPDATE SET
{", ".join(f"{f} = daily_ads.{f} + excluded.{f}" for f in FIGURES)}
"""
)


def read_sql(by_seller: bool) -> TextClause:
    """The ad figures over a range summed by ASIN, SKU and currency (``nullif``: the ad row's
    own null back), whole months and weeks read from their rows (``daily_sales.segments``)."""
    sums = ", ".join(f"sum({f}) AS {f}" for f in FIGURES)
    return text(
        f"""
SELECT nullif(asin, '') AS asin, nullif(seller_sku, '') AS seller_sku, currency_code, {sums}
FROM {segment_rows("daily_ads", by_seller)}
GROUP BY 1, 2, 3
HAVING sum(ad_rows) > 0
"""
    )


def read_params(seller_id: str | None, start: date, end: date) -> dict[str, Any]:
    params = segment_params("ad", None, start, end)
    return params if seller_id is None else params | {"seller_id": seller_id}
