"""The operators' overview: consumer lag per group, dead letters, outbox backlog, readiness and
whether each service's relay and workers are making progress (stalls)."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from analytics.service_layer import queries
from analytics.service_layer.ports import DeadLetterCounts, LagPort, PeersPort
from analytics.service_layer.unit_of_work import UnitOfWork

log = logging.getLogger(__name__)


async def overview(
    *,
    uow: UnitOfWork,
    dead_letters: DeadLetterCounts,
    lag: LagPort,
    groups: dict[str, str],
    peers: PeersPort,
    own_progress: dict[str, Any] | None = None,
    own_stalled: bool = False,
) -> dict[str, Any]:
    """``own_progress``: this process's relay and worker progress (from its /metrics);
    ``own_stalled``: a relay or worker of this process is stalled (its /readyz would fail on
    that)."""
    own = {
        "ready": not own_stalled,
        "dead_letters": await dead_letters.count_by_status(),
        "outbox_backlog": await queries.outbox_backlog(uow),
        "progress": own_progress,
    }
    others = await asyncio.gather(*(peers.overview(n) for n in peers.names))
    services = {"analytics": own} | dict(zip(peers.names, others, strict=True))
    return {"consumer_lag": await _lag(lag, groups), "services": services}


async def _lag(lag: LagPort, groups: dict[str, str]) -> dict[str, Any]:
    try:
        found = await lag.lag(list(groups.values()))
    except Exception as exc:
        log.warning("cannot read consumer lag", extra={"error": repr(exc)})
        return {"error": type(exc).__name__, "groups": []}
    return {
        "error": None,
        "groups": [
            {
                "service": service,
                "group": group,
                "total": sum(p.lag for p in found.get(group, [])),
                "partitions": [
                    {
                        "topic": p.topic,
                        "partition": p.partition,
                        "committed": p.committed,
                        "end": p.end,
                        "lag": p.lag,
                    }
                    for p in found.get(group, [])
                ],
            }
            for service, group in groups.items()
        ],
    }
