"""Fulfillment's reads: the Manage Orders search, one order, its packing slip, an upload.

Each read opens the unit of work, reads, and leaves without committing (nothing to write).
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from fulfillment.adapters import packing_slip
from fulfillment.adapters.pii import BuyerPII
from fulfillment.domain import search
from fulfillment.domain.errors import OrderNotFound, UploadNotFound
from fulfillment.domain.model import Order
from fulfillment.domain.search import SearchFilters, SearchPage
from fulfillment.service_layer.unit_of_work import UnitOfWork


@dataclass(frozen=True)
class Found:
    """A page of a search (one order more than asked when there is a next page), and the
    defaults the search applied."""

    orders: list[Order]
    applied_defaults: list[str]


async def search_orders(
    uow: UnitOfWork,
    *,
    filters: SearchFilters,
    ship_by: str | None,
    page: SearchPage,
    now: datetime,
) -> Found:
    """Search with Seller Central's defaults (``domain.search``) where the seller set none."""
    effective, applied = search.with_defaults(filters, ship_by=ship_by, now=now)
    async with uow:
        orders = await uow.orders.search(effective, page)
    return Found(orders, applied)


async def get_order(uow: UnitOfWork, *, amazon_order_id: str, seller_id: str | None) -> Order:
    """The order, if ``seller_id`` (None: any seller) holds it; else ``OrderNotFound``."""
    async with uow:
        found = await uow.orders.get(amazon_order_id, seller_id=seller_id)
    if found is None:
        raise OrderNotFound(amazon_order_id)
    return found


async def packing_slip_pdf(
    uow: UnitOfWork, *, amazon_order_id: str, seller_id: str, pii: BuyerPII
) -> bytes:
    """The order's packing slip as PDF; ``BuyerPIIRemoved`` once retention removed the PII.
    Rendering parses and subsets fonts (a second or more for CJK, ADR 0048): it runs in a
    worker thread so the event loop keeps serving other requests."""
    order = await get_order(uow, amazon_order_id=amazon_order_id, seller_id=seller_id)
    order.check_packing_slip()
    return await asyncio.to_thread(packing_slip.render, order, pii.open(order.buyer_pii))


async def get_upload(uow: UnitOfWork, *, upload_id: uuid.UUID, seller_id: str | None) -> Any:
    """The upload's row (progress and results); ``UploadNotFound`` if the seller has none."""
    async with uow:
        row = await uow.uploads.get(upload_id, seller_id=seller_id)
    if row is None:
        raise UploadNotFound(str(upload_id))
    return row
