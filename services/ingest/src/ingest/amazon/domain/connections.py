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


# -- sync health: what the poller recorded, read as one word and how far behind ------------------

# The poller records the last failed pass in ``last_error`` as text; these openings are how the
# SP-API client (``adapters/spapi/http.py``) words the failures whose fix differs: LWA refusing
# the refresh token, SP-API refusing the access (``SpApiRequestError``), and 429 to the last try.
LWA_REFUSED = "LWA refused the credentials"
THROTTLED = "SP-API throttled"
FORBIDDEN = "SP-API answered 403"
# A cursor this much older than a healthy one (two minutes' settling plus a poll interval)
# means the connection is behind: a long backfill, or passes that take longer than the interval.
BEHIND_GRACE = timedelta(minutes=10)


class Health(StrEnum):
    OK = "ok"
    PAUSED = "paused"  # kept, not polled
    AUTH_FAILING = "auth_failing"  # LWA refused the refresh token, or SP-API answered 403
    THROTTLED = "throttled"  # the last pass ran out of retries on 429
    FAILING = "failing"  # the last pass failed otherwise (Amazon down, a refused request)
    NEVER_SYNCED = "never_synced"  # no pass has read a whole window yet
    BEHIND = "behind"  # passes succeed but the cursor is far behind now


@dataclass(frozen=True)
class SyncHealth:
    health: Health
    behind_seconds: int  # orders updated since this many seconds ago are not read yet


def sync_health(
    *,
    status: Status,
    last_error: str | None,
    last_sync_at: datetime | None,
    cursor: datetime,
    now: datetime,
    poll: timedelta,
) -> SyncHealth:
    """A connection's health from what the poller records: a paused connection is paused
    whatever its last pass did; otherwise the last pass's failure names it, then whether a
    whole window was ever read, then how far the cursor trails ``now``."""
    behind = max(now - cursor, timedelta(0))
    seconds = int(behind.total_seconds())
    if status == Status.PAUSED:
        return SyncHealth(Health.PAUSED, seconds)
    if last_error:
        return SyncHealth(_failure(last_error), seconds)
    if last_sync_at is None:
        return SyncHealth(Health.NEVER_SYNCED, seconds)
    late = behind > SETTLE + poll + BEHIND_GRACE
    return SyncHealth(Health.BEHIND if late else Health.OK, seconds)


def _failure(last_error: str) -> Health:
    if last_error.startswith((LWA_REFUSED, FORBIDDEN)):
        return Health.AUTH_FAILING
    if last_error.startswith(THROTTLED):
        return Health.THROTTLED
    return Health.FAILING
