"""Ingest's REST API, as the trace needs it: the order it holds and its quarantined input.

``IngestClient`` wraps an ``httpx.AsyncClient`` (tests hand in one bound to ingest in-process
or a ``MockTransport``); every call answers ``Unreachable`` instead of raising when ingest is
down or slow, so a trace still answers.
"""

from __future__ import annotations

import httpx

from analytics.service_layer.ports import IngestView, Unreachable


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


class NoIngest:
    """Used when no ingest URL is configured."""

    async def view(
        self, amazon_order_id: str, *, seller: str | None = None
    ) -> IngestView | Unreachable:
        return Unreachable("no ingest URL configured (ORDERFLOW_SERVICE_URLS)")
