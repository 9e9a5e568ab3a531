"""Ingest's REST API, as the trace needs it: the order it holds and its quarantined input, and
the seller's Amazon connections with their sync health.

``IngestClient`` wraps an ``httpx.AsyncClient`` (tests hand in one bound to ingest in-process
or a ``MockTransport``); every call answers ``Unreachable`` instead of raising when ingest is
down or slow, so a trace still answers.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import httpx

from analytics.domain.amazon_connection import AmazonConnection
from analytics.service_layer.ports import IngestView, Unreachable

PAGES = 10  # a seller has one connection per selling partner and region: a page or two


class IngestClient:
    """Implements ``service_layer.ports.IngestPort``."""

    def __init__(self, client: httpx.AsyncClient, *, api_key: str) -> None:
        self._client = client
        self._headers = {"Authorization": f"Bearer {api_key}"}

    async def view(
        self, amazon_order_id: str, *, seller: str | None = None
    ) -> IngestView | Unreachable:
        headers = self._headers if seller is None else {**self._headers, "X-Seller-Id": seller}
        try:
            order = await self._client.get(f"/v1/orders/{amazon_order_id}", headers=headers)
            quarantine = await self._client.get(
                "/v1/quarantine",
                params={"amazon_order_id": amazon_order_id, "limit": 50},
                headers=headers,
            )
        except httpx.HTTPError as exc:
            return Unreachable(f"{type(exc).__name__}: {exc}"[:300])
        if order.status_code not in (200, 404) or quarantine.status_code != 200:
            return Unreachable(f"ingest answered {order.status_code}/{quarantine.status_code}")
        return IngestView(
            order=order.json() if order.status_code == 200 else None,
            quarantine=list(quarantine.json().get("items", [])),
        )

    async def connections(self, *, seller: str) -> list[AmazonConnection] | Unreachable:
        headers = {**self._headers, "X-Seller-Id": seller}
        found: list[AmazonConnection] = []
        cursor: str | None = None
        for _ in range(PAGES):
            params = {"limit": 100} | ({"cursor": cursor} if cursor else {})
            try:
                page = await self._client.get("/v1/connections", params=params, headers=headers)
            except httpx.HTTPError as exc:
                return Unreachable(f"{type(exc).__name__}: {exc}"[:300])
            if page.status_code != 200:
                return Unreachable(f"ingest answered {page.status_code}")
            body = page.json()
            found += [_connection(item) for item in body.get("items", [])]
            cursor = body.get("next_cursor")
            if not cursor:
                break
        return found


def _connection(item: dict[str, Any]) -> AmazonConnection:
    synced = item.get("last_sync_at")
    return AmazonConnection(
        id=str(item["id"]),
        selling_partner_id=str(item["selling_partner_id"]),
        region=str(item["region"]),
        marketplace_ids=tuple(item.get("marketplace_ids", [])),
        status=str(item["status"]),
        health=str(item.get("health", "ok")),
        behind_seconds=int(item.get("behind_seconds", 0)),
        last_sync_at=datetime.fromisoformat(synced) if synced else None,
        last_error=item.get("last_error"),
    )


class NoIngest:
    """Used when no ingest URL is configured."""

    async def view(
        self, amazon_order_id: str, *, seller: str | None = None
    ) -> IngestView | Unreachable:
        return Unreachable("no ingest URL configured (ORDERFLOW_SERVICE_URLS)")

    async def connections(self, *, seller: str) -> list[AmazonConnection] | Unreachable:
        return Unreachable("no ingest URL configured (ORDERFLOW_SERVICE_URLS)")
