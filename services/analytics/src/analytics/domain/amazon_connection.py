"""The seller's Amazon connections as the trace sees them, and what each one's state means for
an order that is not showing, with the fix (pure).

Ingest polls each connection (``GET /v1/connections`` shows its ``health``): a connection that
is paused, whose authorisation Amazon refuses, that Amazon throttles or that trails far behind
leaves orders at Amazon that Orderflow has not read, or changes to them it has not seen. The
trace looks at the connections that read the order's marketplace, or at every connection of the
seller when the marketplace is not known (the order is nowhere in Orderflow).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from analytics.domain.findings import Finding

CONNECT = (
    "connect the seller with POST /v1/connections on ingest (selling partner id, region, "
    "marketplace_ids, the app's LWA credentials)"
)

ONLY_WHEN_MISSING = frozenset({"amazon_first_sync"})


@dataclass(frozen=True)
class AmazonConnection:
    """One connection as ingest shows it (credentials never leave ingest)."""

    id: str
    selling_partner_id: str
    region: str
    marketplace_ids: tuple[str, ...]
    status: str  # active | paused
    health: str  # ok | paused | auth_failing | throttled | failing | never_synced | behind
    behind_seconds: int
    last_sync_at: datetime | None = None
    last_error: str | None = None


@dataclass(frozen=True)
class ConnectionsSeen:
    """The seller's connections that matter to the order: those reading ``marketplace_id``,
    or all of them when it is not known."""

    marketplace_id: str | None
    connections: tuple[AmazonConnection, ...]


def reading(marketplace_id: str | None, every: list[AmazonConnection]) -> ConnectionsSeen:
    chosen = [c for c in every if marketplace_id is None or marketplace_id in c.marketplace_ids]
    return ConnectionsSeen(marketplace_id, tuple(chosen))


def connection_findings(seen: ConnectionsSeen, *, received: bool) -> list[Finding]:
    """What the connections explain. A received order needs no connection (it may have been
    sent to ingest directly), so "not connected" and "first sync pending" only explain an
    order Orderflow does not have; a stopped or failing sync explains both a missing order
    and a received one whose later changes (shipped, cancelled) have not arrived."""
    if not seen.connections:
        return [] if received else [_none(seen.marketplace_id)]
    found = [f for f in map(_finding, seen.connections) if f is not None]
    return [f for f in found if not (received and f.code in ONLY_WHEN_MISSING)]


def _none(marketplace_id: str | None) -> Finding:
    where = f"reads marketplace {marketplace_id}" if marketplace_id else "is set up"
    return Finding(
        "amazon_not_connected",
        f"No Amazon connection of this seller {where}, so Orderflow has only the orders sent "
        f"to it directly. To read orders from Amazon, {CONNECT}"
        + (f" including {marketplace_id}." if marketplace_id else "."),
        {"marketplace_id": marketplace_id},
    )


def _finding(c: AmazonConnection) -> Finding | None:
    rule = _RULES.get(c.health)
    if rule is None:
        return None
    code, message = rule(c)
    details: dict[str, object] = {
        "connection_id": c.id,
        "health": c.health,
        "last_sync_at": c.last_sync_at.isoformat() if c.last_sync_at else None,
        "behind_seconds": c.behind_seconds,
        "last_error": c.last_error,
    }
    return Finding(code, message, details)


def _name(c: AmazonConnection) -> str:
    return f"The Amazon connection {c.selling_partner_id} ({c.region})"


def _since(c: AmazonConnection) -> str:
    if c.last_sync_at is None:
        return "it has never completed a sync"
    return (
        f"its last successful sync was at {c.last_sync_at:%Y-%m-%d %H:%M} UTC and it is "
        f"{_duration(c.behind_seconds)} behind"
    )


def _duration(seconds: int) -> str:
    left = timedelta(seconds=seconds)
    if left >= timedelta(days=2):
        return f"{left.days} days"
    if left >= timedelta(hours=2):
        return f"{seconds // 3600} hours"
    return f"{max(seconds // 60, 1)} minutes"


def _paused(c: AmazonConnection) -> tuple[str, str]:
    return (
        "amazon_connection_paused",
        f"{_name(c)} is paused: Orderflow reads none of its orders or their changes, and "
        f"{_since(c)}. Resume it: POST /v1/connections/{c.id}/resume on ingest.",
    )


def _auth_failing(c: AmazonConnection) -> tuple[str, str]:
    return (
        "amazon_auth_failing",
        f"{_name(c)} fails authentication: Amazon refuses its authorisation ({c.last_error}), "
        f"so no order is read, and {_since(c)}. The seller revoked the app or its refresh "
        "token is no longer valid: re-authorise the app in Seller Central (Apps and Services, "
        f"Manage Your Apps), then replace the connection with the new refresh token "
        f"(DELETE /v1/connections/{c.id}, then POST /v1/connections with sync_from at the last "
        "successful sync).",
    )


def _throttled(c: AmazonConnection) -> tuple[str, str]:
    return (
        "amazon_throttled",
        f"{_name(c)} is throttled: Amazon answered 429 to every retry of the last sync, and "
        f"{_since(c)}. Nothing to change: wait, the poller keeps to Amazon's rate and the "
        "orders arrive as it catches up (if it lasts, another app may share this seller's "
        "quota).",
    )


def _failing(c: AmazonConnection) -> tuple[str, str]:
    return (
        "amazon_sync_failing",
        f"{_name(c)}'s last sync failed ({c.last_error}), and {_since(c)}. The poller tries "
        "again every interval; if it keeps failing, check the connection's endpoint and "
        "Amazon's service status.",
    )


def _never_synced(c: AmazonConnection) -> tuple[str, str]:
    return (
        "amazon_first_sync",
        f"{_name(c)} has not completed its first sync yet: wait, the order arrives once it "
        f"has read the last {_duration(c.behind_seconds)} of orders.",
    )


def _behind(c: AmazonConnection) -> tuple[str, str]:
    return (
        "amazon_sync_behind",
        f"{_name(c)} is behind: {_since(c)}; orders updated since then are not read yet. "
        "Wait: they arrive as it catches up.",
    )


_RULES = {
    "paused": _paused,
    "auth_failing": _auth_failing,
    "throttled": _throttled,
    "failing": _failing,
    "never_synced": _never_synced,
    "behind": _behind,
}
