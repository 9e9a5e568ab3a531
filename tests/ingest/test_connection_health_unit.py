"""A connection's sync health, from what the poller records (pure rules, no I/O)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from ingest.amazon.adapters.spapi.http import SpApiRequestError
from ingest.amazon.domain.connections import Health, Status, SyncHealth, sync_health

pytestmark = pytest.mark.unit

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
POLL = timedelta(minutes=1)


def _health(**over: Any) -> SyncHealth:
    facts: dict[str, Any] = {
        "status": Status.ACTIVE,
        "last_error": None,
        "last_sync_at": NOW - timedelta(minutes=1),
        "cursor": NOW - timedelta(minutes=3),
        "now": NOW,
        "poll": POLL,
    }
    return sync_health(**(facts | over))


def test_a_recent_sync_is_ok_and_says_how_far_behind() -> None:
    assert _health() == SyncHealth(Health.OK, 180)


def test_paused_wins_over_a_recorded_error() -> None:
    paused = _health(status=Status.PAUSED, last_error="SP-API throttled: searchOrders")
    assert paused.health == Health.PAUSED


@pytest.mark.parametrize(
    ("error", "health"),
    [
        ("LWA refused the credentials (400: invalid_grant): revoked", Health.AUTH_FAILING),
        (str(SpApiRequestError(403, [{"code": "Unauthorized"}])), Health.AUTH_FAILING),
        ("SP-API throttled: searchOrders still 429 after 6 attempts", Health.THROTTLED),
        ("SP-API searchOrders failed after 6 attempts", Health.FAILING),
        ("LWA token endpoint unreachable: ConnectError", Health.FAILING),
    ],
)
def test_the_last_failure_names_the_health(error: str, health: Health) -> None:
    assert _health(last_error=error).health == health


def test_never_synced_then_behind() -> None:
    assert _health(last_sync_at=None).health == Health.NEVER_SYNCED
    late = _health(cursor=NOW - timedelta(minutes=14))
    assert late == SyncHealth(Health.BEHIND, 14 * 60)
    assert _health(cursor=NOW - timedelta(minutes=12)).health == Health.OK
    assert _health(cursor=NOW + timedelta(seconds=5)).behind_seconds == 0
