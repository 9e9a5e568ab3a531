"""Seller connections to Amazon's SP-API: what they are, their states, their sync windows.

A connection is one Amazon selling partner in one region (NA, EU, FE), with the marketplaces to
read, the Orders API version to use and where to reach it (production, Amazon's sandbox, or a
custom base URL such as a local stand-in). Its credentials are kept sealed, outside this model.

States: ``active`` (polled) and ``paused`` (kept, not polled); ``remove`` deletes it. Every
change of state goes through ``transition``.

Sync windows: orders are read by last-update time, from the stored cursor to at most two
minutes before now (Amazon refuses a later ``LastUpdatedBefore`` and may still be writing the
last two minutes). The cursor moves to the window's end only once the whole window is stored.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from urllib.parse import urlsplit

# The errors live in errors.py; imported here too, where the connection rules raise them.
from ingest.amazon.domain.errors import ConnectionExists as ConnectionExists
from ingest.amazon.domain.errors import ConnectionNotFound as ConnectionNotFound
from ingest.amazon.domain.errors import InvalidTransition as InvalidTransition
from ingest.amazon.domain.errors import SpApiError as SpApiError
from ingest.amazon.domain.errors import SpApiUnavailable as SpApiUnavailable
from ingest.amazon.domain.errors import UnknownSellingPartner as UnknownSellingPartner

SETTLE = timedelta(minutes=2)


class Region(StrEnum):
    NA = "NA"
    EU = "EU"
    FE = "FE"


class OrdersApi(StrEnum):
    V2026 = "v2026-01-01"
    V0 = "v0"


class Status(StrEnum):
    ACTIVE = "active"
    PAUSED = "paused"


class Action(StrEnum):
    PAUSE = "pause"
    RESUME = "resume"


PRODUCTION = "production"
SANDBOX = "sandbox"
LWA_TOKEN_URL = "https://api.amazon.com/auth/o2/token"

_HOSTS = {Region.NA: "na", Region.EU: "eu", Region.FE: "fe"}

TRANSITIONS: dict[tuple[Status, Action], Status] = {
    (Status.ACTIVE, Action.PAUSE): Status.PAUSED,
    (Status.PAUSED, Action.RESUME): Status.ACTIVE,
}


def transition(current: Status, action: Action) -> Status:
    target = TRANSITIONS.get((current, action))
    if target is None:
        raise InvalidTransition(
            f"Cannot {action.value} a connection that is {current.value}; "
            f"allowed from {current.value}: "
            f"{', '.join(a.value for (s, a) in TRANSITIONS if s == current) or 'nothing'}."
        )
    return target


AMAZON_HOSTS = frozenset(
    {f"sellingpartnerapi-{h}.amazon.com" for h in _HOSTS.values()}
    | {f"sandbox.sellingpartnerapi-{h}.amazon.com" for h in _HOSTS.values()}
    | {"api.amazon.com"}
)


def host_allowed(url: str, allowed: frozenset[str]) -> bool:
    """May ingest call ``url``? Amazon's hosts always; others only when configured."""
    host = urlsplit(url).hostname or ""
    return host.lower() in AMAZON_HOSTS | allowed


def base_url(region: Region, endpoint: str) -> str:
    """Production, sandbox, or the custom base URL itself."""
    if endpoint == PRODUCTION:
        return f"https://sellingpartnerapi-{_HOSTS[region]}.amazon.com"
    if endpoint == SANDBOX:
        return f"https://sandbox.sellingpartnerapi-{_HOSTS[region]}.amazon.com"
    return endpoint.rstrip("/")


@dataclass(frozen=True)
class Credentials:
    """LWA credentials, in clear only in memory while a request is made."""

    client_id: str
    client_secret: str
    refresh_token: str


@dataclass(frozen=True)
class Connection:
    id: str
    seller_id: str
    selling_partner_id: str
    region: Region
    marketplace_ids: tuple[str, ...]
    orders_api: OrdersApi
    endpoint: str
    lwa_token_url: str | None
    status: Status


@dataclass(frozen=True)
class Window:
    after: datetime
    before: datetime


def next_window(cursor: datetime, now: datetime) -> Window | None:
    """The next window to read, or None while the cursor is within two minutes of now."""
    before = now - SETTLE
    if before <= cursor:
        return None
    return Window(after=cursor, before=before)
