"""The other services' ops endpoints over REST: readiness, dead letters, outbox backlog.

Every call answers ``None`` (or ``reachable: False``) when a service is down, never raises.
"""

from __future__ import annotations

from typing import Any

import httpx

BACKLOG_GAUGE = "orderflow_outbox_backlog"


class Peers:
    def __init__(
        self,
        urls: dict[str, str],
        *,
        api_key: str,
        timeout: float,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._urls = urls
        self._headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._timeout = timeout
        self._transport = transport  # tests hand in a MockTransport

    def _client(self, name: str) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            base_url=self._urls[name], timeout=self._timeout, transport=self._transport
        )

    @property
    def names(self) -> list[str]:
        return sorted(self._urls)

    @property
    def consumers(self) -> list[str]:
        """The peers that consume topics, so may hold dead letters (ingest consumes none)."""
        return [n for n in self.names if n != "ingest"]

    async def overview(self, name: str) -> dict[str, Any]:
        base = self._urls[name]
        async with self._client(name) as client:
            ready = await _get(client, "/readyz", {})
            dead = await _get(
                client, "/v1/dead-letters", self._headers, params={"status": "dead", "limit": 200}
            )
            metrics = await _get(client, "/metrics", {})
        return {
            "url": base,
            "reachable": ready is not None,
            "ready": ready is not None and ready.status_code == 200,
            "readiness": _json(ready),
            "dead_letters": _dead_count(dead),
            "outbox_backlog": _backlog(metrics),
        }

    async def order(
        self, name: str, amazon_order_id: str, *, seller: str | None = None
    ) -> dict[str, Any] | None:
        """What service ``name`` holds for the order (its ``GET /v1/orders/{id}``); None when
        that service is not configured. With ``seller`` the peer is asked for that seller's
        order only (``X-Seller-Id``): another seller's answers "not found", as an unknown id."""
        if name not in self._urls:
            return None
        headers = self._headers if seller is None else {**self._headers, "X-Seller-Id": seller}
        async with self._client(name) as client:
            found = await _get(client, f"/v1/orders/{amazon_order_id}", headers)
        if found is None or found.status_code not in (200, 404):
            return {"reachable": False}
        if found.status_code == 404:
            return {"reachable": True, "found": False}
        body = found.json()
        return {
            "reachable": True,
            "found": True,
            "version": body.get("version"),
            "status": body.get("status"),
        }

    async def dead_letters_of(self, name: str, subject: str) -> list[dict[str, Any]] | None:
        """The service's dead letters of one order (its first 200 dead ones); None when the
        service is not configured or does not answer."""
        if name not in self._urls:
            return None
        async with self._client(name) as client:
            found = await _get(
                client, "/v1/dead-letters", self._headers, params={"status": "dead", "limit": 200}
            )
        if found is None or found.status_code != 200:
            return None
        items: list[dict[str, Any]] = found.json().get("items", [])
        return [d for d in items if d.get("subject") == subject]


async def _get(
    client: httpx.AsyncClient, path: str, headers: dict[str, str], **kwargs: Any
) -> httpx.Response | None:
    try:
        return await client.get(path, headers=headers, **kwargs)
    except httpx.HTTPError:
        return None


def _json(response: httpx.Response | None) -> Any:
    if response is None:
        return None
    try:
        return response.json()
    except ValueError:
        return None


def _dead_count(response: httpx.Response | None) -> dict[str, Any] | None:
    if response is None or response.status_code != 200:
        return None
    body = response.json()
    return {"dead": len(body.get("items", [])), "more": body.get("next_cursor") is not None}


def _backlog(response: httpx.Response | None) -> int | None:
    if response is None or response.status_code != 200:
        return None
    total = None
    for line in response.text.splitlines():
        if line.startswith(BACKLOG_GAUGE + "{") or line.startswith(BACKLOG_GAUGE + " "):
            total = (total or 0) + int(float(line.rsplit(" ", 1)[1]))
    return total
