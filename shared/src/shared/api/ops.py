"""``/healthz`` (alive), ``/readyz`` (database and Kafka reachable, no relay or worker of the
process stalled: ``shared.progress``), ``/metrics`` and ``/asyncapi.json`` (the event contract,
the same document in every service: ``shared.events.asyncapi``, public like ``/openapi.json``)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from functools import cache

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from shared.events import asyncapi
from shared.progress import Stalled

ReadinessCheck = Callable[[], Awaitable[None]]

router = APIRouter(tags=["ops"])


@router.get("/healthz", summary="The process is alive")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz", summary="The database and Kafka are reachable; nothing is stalled")
async def readyz(request: Request) -> JSONResponse:
    checks: dict[str, ReadinessCheck] = request.app.state.readiness_checks
    results = await asyncio.gather(*(_run(check) for check in checks.values()))
    report = dict(zip(checks, results, strict=True))
    ready = all(r == "ok" for r in report.values())
    return JSONResponse(
        {"status": "ready" if ready else "not_ready", "checks": report},
        status_code=200 if ready else 503,
        headers=None if ready else {"Retry-After": "2"},
    )


async def _run(check: ReadinessCheck) -> str:
    try:
        await asyncio.wait_for(check(), timeout=3.0)
    except Stalled as exc:  # our own words, safe to show: what stalled and for how long
        return f"failed: Stalled: {exc}"
    except Exception as exc:
        return f"failed: {type(exc).__name__}"
    return "ok"


@router.get("/metrics", summary="Prometheus metrics", response_class=Response)
async def metrics_endpoint() -> Response:
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)


@router.get("/asyncapi.json", include_in_schema=False)
async def asyncapi_document() -> Response:
    return Response(_asyncapi_bytes(), media_type="application/json")


@cache
def _asyncapi_bytes() -> bytes:
    return asyncapi.render().encode()
