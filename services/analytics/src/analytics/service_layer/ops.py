"""The operators' overview: consumer lag per group, dead letters, outbox backlog, readiness and
whether each service's relay and workers are making progress (stalls)."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from analytics.adapters.kafka_lag import LagPort
from analytics.adapters.peers import Peers, stall_view
from analytics.adapters.repository import Reads
from shared.messaging.deadletters import DeadLetters

log = logging.getLogger(__name__)


async def overview(
    *,
    sessions: async_sessionmaker[AsyncSession],
    dead_letters: DeadLetters,
    lag: LagPort,
    groups: dict[str, str],
    peers: Peers,
    own_metrics: str = "",
    own_stalled: bool = False,
) -> dict[str, Any]:
    """``own_metrics``: this process's /metrics text; ``own_stalled``: a relay or worker of
    this process is stalled (its /readyz would fail on that)."""
    async with sessions() as session:
        backlog = await Reads(session).outbox_backlog()
    own = {
        "ready": not own_stalled,
        "dead_letters": await dead_letters.count_by_status(),
        "outbox_backlog": backlog,
        "progress": stall_view(own_metrics, service="analytics") if own_metrics else None,
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
