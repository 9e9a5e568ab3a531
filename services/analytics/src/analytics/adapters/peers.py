"""The other services' ops endpoints over REST: readiness, dead letters, outbox backlog, stalls.

Every call answers ``None`` (or ``reachable: False``) when a service is down, never raises.
"""

from __future__ import annotations

import time
from typing import Any

import httpx
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

BACKLOG_GAUGE = "orderflow_outbox_backlog"


class Peers:
    """Implements ``service_layer.ports.PeersPort``."""

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
            "progress": stall_view(metrics.text)
            if metrics is not None and metrics.status_code == 200
            else None,
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
            "marketplace_id": body.get("marketplace_id"),
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


def stall_view(
    metrics_text: str, now: float | None = None, service: str | None = None
) -> dict[str, Any]:
    """What a process's ``/metrics`` says about its relay's and workers' progress
    (``shared.progress``, docs/operations/stall-detection.md): which roles are stalled, the age
    of the oldest unsent outbox row, seconds since the last successful relay round, the
    workers' lag and seconds since their last applied fetch. A value the process does not
    export (it runs no relay, or no worker) is None. ``service``: only its series."""
    now = time.time() if now is None else now
    stalled: dict[str, bool] = {}
    values: dict[str, list[float]] = {}
    try:
        families = list(text_string_to_metric_families(metrics_text))
    except ValueError:
        return {"stalled": {}, "unreadable": True}
    for family in families:
        for sample in family.samples:
            if service is not None and sample.labels.get("service") != service:
                continue
            if sample.name == "orderflow_stalled":
                role = sample.labels.get("role", "?")
                stalled[role] = stalled.get(role, False) or sample.value >= 1
            else:
                values.setdefault(sample.name, []).append(sample.value)

    def since(name: str) -> float | None:
        stamps = [v for v in values.get(name, []) if v > 0]
        return round(now - max(stamps), 1) if stamps else None

    ages = values.get("orderflow_outbox_oldest_unsent_age_seconds")
    lags = values.get("orderflow_consumer_lag")
    return {
        "stalled": stalled,
        "outbox_oldest_unsent_age_s": round(max(ages), 1) if ages else None,
        "relay_last_success_s_ago": since("orderflow_outbox_last_success_timestamp_seconds"),
        "consumer_lag": int(sum(lags)) if lags else None,
        "consumer_last_applied_s_ago": since("orderflow_consumer_last_applied_timestamp_seconds"),
    }


def own_progress(service: str) -> dict[str, Any] | None:
    """This process's own progress (``stall_view`` of its ``/metrics``, ``service``'s series);
    implements ``service_layer.ports.ProgressPort`` once bound to the service's name."""
    text = generate_latest().decode()
    return stall_view(text, service=service) if text else None
