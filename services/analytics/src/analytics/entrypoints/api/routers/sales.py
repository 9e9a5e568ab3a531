"""``/v1/sales``: orders, units and revenue by day or week, grouped, for a purchase-date range;
by SKU, a page of SKUs at a time (docs/adr/0060)."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from pydantic import StringConstraints

from analytics.domain.errors import InvalidQuery
from analytics.entrypoints.api.deps import Uow
from analytics.entrypoints.api.schemas import SalesOut
from analytics.service_layer import queries
from shared import inputs
from shared.api.auth import VisibleSeller
from shared.api.pagination import Cursor, Limit, Position, encode_cursor, read_cursor

router = APIRouter(prefix="/v1/sales", tags=["sales"])

MAX_DAYS = 366
FROM_DAY = "first day, on the calendar of each order's marketplace (UTC if unknown)"
TO_DAY = "last day, included, on the calendar of each order's marketplace (UTC if unknown)"


def check_range(start: date, end: date) -> None:
    if end < start:
        raise InvalidQuery("query.to", "must not be before 'from'")
    if (end - start).days >= MAX_DAYS:
        raise InvalidQuery("query.to", f"a range covers at most {MAX_DAYS} days")


class SkuAfter(Position):
    """The last SKU entry of a page, by its sort key (units, orders, SKU, currency)."""

    u: inputs.Count64
    o: inputs.Count64
    s: Annotated[str, StringConstraints(max_length=200)]
    c: Annotated[str, StringConstraints(max_length=16)]


@router.get(
    "",
    response_model=SalesOut,
    summary="Sales totals and series (each order once; canceled excluded)",
)
async def get_sales(
    seller: VisibleSeller,
    uow: Uow,
    start: Annotated[inputs.Day, Query(alias="from", description=FROM_DAY)],
    end: Annotated[inputs.Day, Query(alias="to", description=TO_DAY)],
    granularity: Literal["day", "week"] = "day",
    group_by: Literal["marketplace", "fulfillment_channel", "sku", "none"] = "none",
    limit: Limit = 50,
    cursor: Cursor = None,
) -> dict[str, Any]:
    check_range(start, end)
    after = read_cursor(cursor, SkuAfter)
    report = await queries.sales(
        uow,
        seller_id=seller,
        start=start,
        end=end,
        granularity=granularity,
        group_by=group_by,
        page=queries.SkuPage(
            limit, None if after is None else (after.u, after.o, after.s, after.c)
        ),
    )
    more, items = report.pop("more"), report["items"]
    last = items[-1] if more and items else None
    next_cursor = (
        encode_cursor(
            SkuAfter(u=last["units"], o=last["orders"], s=last["sku"], c=last["currency_code"])
        )
        if last
        else None
    )
    return {"seller_id": seller, **report, "next_cursor": next_cursor}
