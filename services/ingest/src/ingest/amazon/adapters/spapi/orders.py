"""Orders readers behind one Protocol: v2026-01-01 (default) and v0 (fallback).

``updated(window, token)`` reads one page of orders last updated in the window, items included
(v2026: searchOrders with ``includedData``; v0: getOrders, then getOrderItems per order, every
page of each); ``order(id)`` reads one order (v2026: getOrder with ``includedData``; v0: getOrder
and getOrderItems). Both answer with orders parsed by the intake's own adapters.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from ingest.amazon.adapters.spapi.http import SpApiHttp, SpApiRequestError
from ingest.amazon.domain.connections import Window
from ingest.intake.adapters import amazon_v0, amazon_v2026
from ingest.intake.domain.model import IncomingOrder, Rejected

INCLUDED_DATA = "BUYER,RECIPIENT,PROCEEDS,CANCELLATION,FULFILLMENT"

Parsed = IncomingOrder | Rejected


@dataclass(frozen=True)
class OrdersPage:
    orders: list[Parsed]
    next_token: str | None


class OrdersReader(Protocol):
    async def updated(self, window: Window, token: str | None) -> OrdersPage: ...

    async def order(self, amazon_order_id: str) -> Parsed | None: ...


def _iso(at: datetime) -> str:
    return at.isoformat().replace("+00:00", "Z")


@dataclass
class V2026Reader:
    http: SpApiHttp
    marketplace_ids: tuple[str, ...]
    page_size: int = 100

    async def updated(self, window: Window, token: str | None) -> OrdersPage:
        body = await self.http.get(
            "searchOrders",
            "/orders/2026-01-01/orders",
            {
                "lastUpdatedAfter": _iso(window.after),
                "lastUpdatedBefore": _iso(window.before),
                "marketplaceIds": ",".join(self.marketplace_ids),
                "maxResultsPerPage": self.page_size,
                "includedData": INCLUDED_DATA,
                "paginationToken": token,
            },
        )
        orders = [amazon_v2026.parse(o) for o in body.get("orders") or []]
        return OrdersPage(orders, (body.get("pagination") or {}).get("nextToken"))

    async def order(self, amazon_order_id: str) -> Parsed | None:
        try:
            body = await self.http.get(
                "getOrder2026",
                f"/orders/2026-01-01/orders/{amazon_order_id}",
                {"includedData": INCLUDED_DATA},
            )
        except SpApiRequestError as exc:
            if exc.status == 404:
                return None
            raise
        return amazon_v2026.parse(body)


@dataclass
class V0Reader:
    http: SpApiHttp
    marketplace_ids: tuple[str, ...]
    page_size: int = 100

    async def updated(self, window: Window, token: str | None) -> OrdersPage:
        params: dict[str, Any] = {"MarketplaceIds": ",".join(self.marketplace_ids)}
        if token:
            params["NextToken"] = token  # with NextToken, the other filters must be left out
        else:
            params |= {
                "LastUpdatedAfter": _iso(window.after),
                "LastUpdatedBefore": _iso(window.before),
                "MaxResultsPerPage": self.page_size,
            }
        body = await self.http.get("getOrders", "/orders/v0/orders", params)
        payload = body.get("payload") or {}
        orders = [await self._with_items(o) for o in payload.get("Orders") or []]
        return OrdersPage(orders, payload.get("NextToken"))

    async def order(self, amazon_order_id: str) -> Parsed | None:
        try:
            body = await self.http.get("getOrder", f"/orders/v0/orders/{amazon_order_id}", {})
        except SpApiRequestError as exc:
            if exc.status == 404:
                return None
            raise
        return await self._with_items(body.get("payload") or {})

    async def _with_items(self, order: dict[str, Any]) -> Parsed:
        order_id = order.get("AmazonOrderId")
        if not isinstance(order_id, str):
            return amazon_v0.parse(order)
        items: list[Any] = []
        token: str | None = None
        while True:
            body = await self.http.get(
                "getOrderItems",
                f"/orders/v0/orders/{order_id}/orderItems",
                {"NextToken": token},
            )
            payload = body.get("payload") or {}
            items += payload.get("OrderItems") or []
            token = payload.get("NextToken")
            if not token:
                return amazon_v0.parse({**order, "OrderItems": items})
