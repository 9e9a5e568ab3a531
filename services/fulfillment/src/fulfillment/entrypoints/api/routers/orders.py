"""``/v1/orders``: the Manage Orders search, one order in full, cancellation, packing slip."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Response
from pydantic import AwareDatetime

from fulfillment.domain import carriers
from fulfillment.domain import commands as cmd
from fulfillment.domain.model import Order
from fulfillment.domain.search import SearchFilters, SearchPage
from fulfillment.entrypoints.api.deps import Now, Pii, UoW
from fulfillment.entrypoints.api.schemas import (
    CancellationIn,
    OrderOut,
    OrderPage,
    order_out,
    summary_out,
)
from fulfillment.service_layer import handlers, queries
from shared import inputs
from shared.api.auth import ActingSeller, VisibleSeller
from shared.api.pagination import (
    Cursor,
    Limit,
    Position,
    bad_cursor,
    encode_cursor,
    read_cursor,
)
from shared.api.problems import Problem

router = APIRouter(prefix="/v1/orders", tags=["orders"])
AsinLookup = Annotated[str, inputs.Line(20, min_length=1)]
TitleLookup = Annotated[str, inputs.Line(200, min_length=1)]

StatusName = Literal[
    "PendingAvailability",
    "Pending",
    "Unshipped",
    "PartiallyShipped",
    "Shipped",
    "InvoiceUnconfirmed",
    "Canceled",
    "Unfulfillable",
]


@router.get("", response_model=OrderPage, summary="Search orders (Manage Orders)")
async def search_orders(
    seller: VisibleSeller,
    uow: UoW,
    pii: Pii,
    now: Now,
    limit: Limit = 50,
    cursor: Cursor = None,
    purchase_date_from: inputs.QueryMoment | None = None,
    purchase_date_to: inputs.QueryMoment | None = None,
    amazon_order_id: Annotated[inputs.OrderIdLookup | None, Query()] = None,
    asin: Annotated[AsinLookup | None, Query()] = None,
    seller_sku: Annotated[inputs.SellerSku | None, Query()] = None,
    title: Annotated[TitleLookup | None, Query()] = None,
    buyer_email: Annotated[inputs.Email | None, Query()] = None,
    ship_service_level: Annotated[inputs.Code | None, Query()] = None,
    carrier_code: Annotated[inputs.CarrierCode | None, Query()] = None,
    tracking_number: Annotated[inputs.TrackingNumber | None, Query()] = None,
    status: Annotated[list[StatusName] | None, Query(max_length=8)] = None,
    fulfillment_channel: Literal["AFN", "MFN"] | None = None,
    sales_channel: Annotated[inputs.Code | None, Query()] = None,
    is_prime: bool | None = None,
    is_business_order: bool | None = None,
    is_replacement_order: bool | None = None,
    ship_by: Literal["due_today", "overdue"] | None = None,
    latest_ship_date_from: inputs.QueryMoment | None = None,
    latest_ship_date_to: inputs.QueryMoment | None = None,
    sort: Literal["purchase_date", "latest_ship_date"] = "purchase_date",
    order: Literal["asc", "desc"] = "desc",
) -> OrderPage:
    requested = SearchFilters(
        seller_id=seller,
        purchase_date_from=purchase_date_from,
        purchase_date_to=purchase_date_to,
        amazon_order_id=amazon_order_id,
        asin=asin,
        seller_sku=seller_sku,
        title=title,
        buyer_email_hash=pii.email_hash(buyer_email) if buyer_email is not None else None,
        ship_service_level=ship_service_level,
        carrier_code=carriers.canonical(carrier_code) if carrier_code else None,
        tracking_number=carriers.normalise_tracking(tracking_number) if tracking_number else None,
        statuses=tuple(status or ()),
        fulfillment_channel=fulfillment_channel,
        sales_channel=sales_channel,
        is_prime=is_prime,
        is_business_order=is_business_order,
        is_replacement_order=is_replacement_order,
        latest_ship_date_from=latest_ship_date_from,
        latest_ship_date_to=latest_ship_date_to,
    )
    if buyer_email is not None and requested.buyer_email_hash is None:
        raise Problem(
            422,
            "Invalid request",
            "buyer_email is empty.",
            errors=[{"field": "query.buyer_email", "message": "empty"}],
        )
    page = SearchPage(
        sort=sort, descending=order == "desc", after=_after(cursor, sort, order), limit=limit + 1
    )
    found = await queries.search_orders(uow, filters=requested, ship_by=ship_by, page=page, now=now)
    items = found.orders[:limit]
    more = len(found.orders) > limit
    return OrderPage(
        items=[summary_out(o) for o in items],
        next_cursor=_cursor_of(items[-1], sort, order) if more else None,
        applied_defaults=found.applied_defaults,
    )


class After(Position):
    """The last order of a page, in the page's sort."""

    s: Literal["purchase_date", "latest_ship_date"]
    o: Literal["asc", "desc"]
    k: AwareDatetime | None
    id: inputs.AmazonOrderId


def _cursor_of(last: Order, sort: str, order: str) -> str:
    key = last.purchase_date if sort == "purchase_date" else last.latest_ship_date
    return encode_cursor({"s": sort, "o": order, "k": key, "id": last.amazon_order_id})


def _after(cursor: str | None, sort: str, order: str) -> tuple[datetime | None, str] | None:
    position = read_cursor(cursor, After)
    if position is None:
        return None
    if position.s != sort or position.o != order:
        raise bad_cursor()  # a cursor of the same list in another sort
    return position.k, position.id


@router.get("/{amazon_order_id}", response_model=OrderOut, summary="One order in full")
async def get_order(
    amazon_order_id: inputs.AmazonOrderId, seller: VisibleSeller, uow: UoW, now: Now
) -> OrderOut:
    order = await queries.get_order(uow, amazon_order_id=amazon_order_id, seller_id=seller)
    return order_out(order, now)


@router.post(
    "/{amazon_order_id}/cancellation",
    response_model=OrderOut,
    summary="Cancel an order before it ships",
    responses={409: {"description": "not cancelable in its status, or FBA"}},
)
async def cancel_order(
    amazon_order_id: inputs.AmazonOrderId,
    body: CancellationIn,
    seller: ActingSeller,
    uow: UoW,
    now: Now,
) -> OrderOut:
    command = cmd.CancelOrder(amazon_order_id=amazon_order_id, seller_id=seller, reason=body.reason)
    async with uow:
        await handlers.cancel_order(uow, command, now=now)
        await uow.commit()
    order = await queries.get_order(uow, amazon_order_id=amazon_order_id, seller_id=seller)
    return order_out(order, now)


@router.get(
    "/{amazon_order_id}/packing-slip",
    response_class=Response,
    summary="The order's packing slip (PDF)",
    responses={200: {"content": {"application/pdf": {}}}},
)
async def get_packing_slip(
    amazon_order_id: inputs.AmazonOrderId, seller: ActingSeller, uow: UoW, pii: Pii
) -> Response:
    content = await queries.packing_slip_pdf(
        uow, amazon_order_id=amazon_order_id, seller_id=seller, pii=pii
    )
    return Response(
        content,
        media_type="application/pdf",
        headers={"Content-Disposition": f'inline; filename="packing-slip-{amazon_order_id}.pdf"'},
    )
