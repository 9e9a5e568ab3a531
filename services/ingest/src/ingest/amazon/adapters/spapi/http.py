"""Throttled, retrying HTTP to SP-API on httpx, authorised with an LWA access token.

Why not ``python-amazon-sp-api`` (saleweaver, 2.1.x, which has an asyncio client and an
``OrdersV20260101``): its endpoint comes from a ``Marketplaces`` enum and its ``host`` header is
``endpoint[8:]`` (so an ``http://`` stand-in breaks), the LWA host is a class attribute with a
fixed ``https://`` scheme, credentials come through ``confuse`` (config files and environment
variables) and access tokens sit in a process-wide cache; it also forces its loggers to INFO and
logs request headers (the access token) at DEBUG. Per-connection base URLs and token URLs,
per-seller token buckets and secrets kept out of logs are simpler in this small adapter. SP-API
no longer needs SigV4 signing: the LWA access token in ``x-amz-access-token`` is enough.

Every call takes a token from the (selling partner, operation) bucket first, waiting if need
be. A 429 empties the bucket and backs off (``Retry-After``, else one period of the
``x-amzn-RateLimit-Limit`` rate, else exponential with jitter); 5xx and transport errors retry
a bounded number of times; any other 4xx fails at once. Nothing here writes to the database, so
a failed call leaves nothing half-done.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from ingest.amazon.domain.connections import (
    LWA_REFUSED,
    THROTTLED,
    Credentials,
    SpApiUnavailable,
)
from ingest.amazon.domain.throttle import (
    LIMITS,
    RateLimit,
    backoff_delay,
    bucket_for,
    parse_rate_limit_header,
)
from shared.ratelimit import TokenBucket

log = logging.getLogger(__name__)

Sleep = Callable[[float], Awaitable[None]]


class SpApiRequestError(Exception):
    """SP-API refused the request (4xx other than 429): retrying would not help."""

    def __init__(self, status: int, errors: Any) -> None:
        super().__init__(f"SP-API answered {status}: {errors}")
        self.status = status
        self.errors = errors


@dataclass
class RetryPolicy:
    max_attempts: int = 6
    base_seconds: float = 1.0
    cap_seconds: float = 60.0


@dataclass
class Buckets:
    """One token bucket per (selling partner, operation), shared by a process's callers."""

    scale: float = 1.0
    clock: Callable[[], float] = time.monotonic
    sleep: Sleep = asyncio.sleep
    _buckets: dict[tuple[str, str], TokenBucket] = field(default_factory=dict)

    def bucket(self, selling_partner_id: str, operation: str) -> TokenBucket:
        key = (selling_partner_id, operation)
        if key not in self._buckets:
            limit = LIMITS.get(operation, RateLimit(0.5, 30)).scaled(self.scale)
            self._buckets[key] = bucket_for(limit, self.clock)
        return self._buckets[key]

    async def acquire(self, selling_partner_id: str, operation: str) -> None:
        wait = self.bucket(selling_partner_id, operation).reserve()
        if wait > 0:
            await self.sleep(wait)


@dataclass
class _Token:
    value: str
    expires_at: float


class TokenCache:
    """LWA access tokens by (token URL, client id, refresh token), refreshed a minute early."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._tokens: dict[tuple[str, str, str], _Token] = {}
        self._lock = asyncio.Lock()
        self._clock = clock

    async def get(self, client: httpx.AsyncClient, url: str, creds: Credentials) -> str:
        key = (url, creds.client_id, creds.refresh_token)
        async with self._lock:
            token = self._tokens.get(key)
            if token is None or token.expires_at - 60 <= self._clock():
                token = await self._fetch(client, url, creds)
                self._tokens[key] = token
            return token.value

    def forget(self, url: str, creds: Credentials) -> None:
        self._tokens.pop((url, creds.client_id, creds.refresh_token), None)

    async def _fetch(self, client: httpx.AsyncClient, url: str, creds: Credentials) -> _Token:
        form = {
            "grant_type": "refresh_token",
            "refresh_token": creds.refresh_token,
            "client_id": creds.client_id,
            "client_secret": creds.client_secret,
        }
        try:
            response = await client.post(url, data=form)
        except httpx.HTTPError as exc:
            raise SpApiUnavailable(
                f"LWA token endpoint unreachable: {type(exc).__name__}"
            ) from None
        if response.status_code != 200:  # LWA answers OAuth 2.0's error and error_description
            refusal = _json(response)
            error = refusal.get("error", "unknown error")
            told = f": {refusal['error_description']}" if refusal.get("error_description") else ""
            raise SpApiUnavailable(f"{LWA_REFUSED} ({response.status_code}: {error}){told}")
        body = _json(response)
        expires = float(body.get("expires_in", 3600))
        return _Token(value=str(body["access_token"]), expires_at=self._clock() + expires)


_RETRIED = frozenset({429, 500, 502, 503, 504})


def _json(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


@dataclass
class SpApiHttp:
    """GETs and POSTs to one connection's SP-API endpoint."""

    client: httpx.AsyncClient
    base_url: str
    token_url: str
    credentials: Credentials
    selling_partner_id: str
    buckets: Buckets
    tokens: TokenCache
    retry: RetryPolicy
    sleep: Sleep = asyncio.sleep

    async def get(self, operation: str, path: str, params: dict[str, Any]) -> dict[str, Any]:
        return await self._call(operation, "GET", path, params=params)

    async def post(self, operation: str, path: str, body: dict[str, Any]) -> dict[str, Any]:
        """POST a JSON body; an empty answer (204) reads as ``{}``."""
        return await self._call(operation, "POST", path, body=body)

    async def _call(
        self,
        operation: str,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        body: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        renewed = False
        status: int | None = None
        for attempt in range(1, self.retry.max_attempts + 1):
            await self.buckets.acquire(self.selling_partner_id, operation)
            response = await self._send(method, path, params or {}, body)
            status = response.status_code if response is not None else None
            if response is not None:
                self._adopt_rate(operation, response)
            if response is not None and response.status_code < 300:
                return _json(response)
            if status == 403 and not renewed:  # an expired access token: renew it once
                self.tokens.forget(self.token_url, self.credentials)
                renewed = True
                continue
            if response is not None and status not in _RETRIED:
                raise SpApiRequestError(response.status_code, _json(response).get("errors"))
            delay = self._delay(operation, attempt, response)
            log.info(
                "sp-api retry",
                extra={
                    "operation": operation,
                    "attempt": attempt,
                    "delay": round(delay, 3),
                    "status": status,
                },
            )
            await self.sleep(delay)
        attempts = self.retry.max_attempts
        if status == 429:
            raise SpApiUnavailable(f"{THROTTLED}: {operation} still 429 after {attempts} attempts")
        raise SpApiUnavailable(f"SP-API {operation} failed after {attempts} attempts")

    def _adopt_rate(self, operation: str, response: httpx.Response) -> None:
        """Amazon's plans are dynamic: follow ``x-amzn-RateLimit-Limit`` when it is sent."""
        rate = parse_rate_limit_header(response.headers.get("x-amzn-ratelimit-limit"))
        if rate is not None:
            self.buckets.bucket(self.selling_partner_id, operation).adopt(rate)

    async def _send(
        self, method: str, path: str, params: dict[str, Any], body: dict[str, Any] | None
    ) -> httpx.Response | None:
        token = await self.tokens.get(self.client, self.token_url, self.credentials)
        try:
            return await self.client.request(
                method,
                self.base_url + path,
                params={k: v for k, v in params.items() if v is not None},
                json=body,
                headers={"x-amz-access-token": token, "accept": "application/json"},
            )
        except httpx.HTTPError:
            return None  # a transport error counts like a 5xx

    def _delay(self, operation: str, attempt: int, response: httpx.Response | None) -> float:
        retry_after: float | None = None
        if response is not None and response.status_code == 429:
            self.buckets.bucket(self.selling_partner_id, operation).drain()
            retry_after = _seconds(response.headers.get("retry-after"))
            rate = parse_rate_limit_header(response.headers.get("x-amzn-ratelimit-limit"))
            if retry_after is None and rate is not None:
                retry_after = 1.0 / rate
        return backoff_delay(
            attempt,
            base=self.retry.base_seconds,
            cap=self.retry.cap_seconds,
            retry_after=retry_after,
        )


def _seconds(value: str | None) -> float | None:
    try:
        return float(value) if value else None
    except ValueError:
        return None
