"""``/v1/ops/overview`` (ops role): lag, dead letters, outbox backlog and readiness of services."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from prometheus_client import generate_latest

from analytics.entrypoints.api.deps import Lag, PeerServices, Sessions, Settings
from analytics.service_layer import ops
from shared.api.auth import require_roles
from shared.runtime import group_id

router = APIRouter(prefix="/v1/ops", tags=["ops"], dependencies=[require_roles("ops")])


@router.get("/overview", summary="Consumer lag, dead letters, outbox backlog, readiness, stalls")
async def get_overview(
    request: Request, sessions: Sessions, settings: Settings, lag: Lag, peers: PeerServices
) -> dict[str, Any]:
    names = {"analytics", *(n for n in peers.names if n != "ingest")}
    groups = {name: group_id(name, settings) for name in sorted(names)}
    return await ops.overview(
        sessions=sessions,
        dead_letters=request.app.state.dead_letters,
        lag=lag,
        groups=groups,
        peers=peers,
        own_metrics=generate_latest().decode(),
        own_stalled=any(p.stalled for p in request.app.state.resources.progress),
    )
