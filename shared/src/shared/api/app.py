"""The FastAPI application factory every service uses, so all four look and behave alike."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

from fastapi import APIRouter, Depends, FastAPI

from shared.api import ops
from shared.api.audit import install_audit
from shared.api.auth import parse_api_keys, rate_limit
from shared.api.files import cancel_jobs
from shared.api.idempotency import install_idempotency
from shared.api.middleware import RequestContextMiddleware
from shared.api.openapi import install_openapi
from shared.api.problems import install_problem_handlers
from shared.ratelimit import KeyedBuckets
from shared.settings import ServiceSettings

Lifespan = Callable[[FastAPI], AbstractAsyncContextManager[None]]


def create_app(
    *,
    settings: ServiceSettings,
    title: str,
    description: str,
    routers: Iterable[APIRouter],
    lifespan: Lifespan | None = None,
) -> FastAPI:
    app = FastAPI(
        title=title,
        description=description,
        version="1.0.0",
        lifespan=_with_jobs(lifespan),
        dependencies=[Depends(rate_limit)],
    )
    app.state.api_keys = parse_api_keys(settings.api_keys)
    app.state.jobs = set()
    app.state.rate_limits = KeyedBuckets(
        rate=settings.rate_limit_per_second, burst=settings.rate_limit_burst
    )
    app.state.readiness_checks = {}
    app.add_middleware(
        RequestContextMiddleware,
        service=settings.service_name,
        max_body_bytes=settings.max_body_bytes,
    )
    install_problem_handlers(app)
    install_openapi(app)
    install_idempotency(app, settings)
    install_audit(app)
    app.include_router(ops.router)
    for router in routers:
        app.include_router(router)
    return app


def _with_jobs(lifespan: Lifespan | None) -> Lifespan:
    """The service's lifespan, then cancel the jobs still running (``shared.api.files``)."""

    @asynccontextmanager
    async def run(app: FastAPI) -> AsyncIterator[None]:
        try:
            if lifespan is None:
                yield
            else:
                async with lifespan(app):
                    yield
        finally:
            await cancel_jobs(app)

    return run
