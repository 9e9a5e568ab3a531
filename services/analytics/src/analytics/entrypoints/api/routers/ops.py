"""``/v1/ops/overview`` (ops role): lag, dead letters, outbox backlog and readiness of services."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from analytics.entrypoints.api.deps import DeadLetters, Deps, Uow
from analytics.service_layer import ops
from shared.api.auth import require_roles

router = APIRouter(prefix="/v1/ops", tags=["ops"], dependencies=[require_roles("ops")])


@router.get("/overview", summary="Consumer lag, dead letters, outbox backlog, readiness, stalls")
async def get_overview(
    request: Request, deps: Deps, uow: Uow, dead_letters: DeadLetters
) -> dict[str, Any]:
    names = {"analytics", *(n for n in deps.peers.names if n != "ingest")}
    return await ops.overview(
        uow=uow,
        dead_letters=dead_letters,
        lag=deps.lag,
        groups={name: deps.group(name) for name in sorted(names)},
        peers=deps.peers,
        own_progress=deps.progress(),
        own_stalled=any(p.stalled for p in request.app.state.resources.progress),
    )
