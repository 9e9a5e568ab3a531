"""Analytics' FastAPI application."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from analytics.dependencies import Dependencies
from analytics.entrypoints.api import errors
from analytics.entrypoints.api.routers import (
    account_health,
    ads,
    alerts,
    dashboard,
    ops,
    sales,
    trace,
)
from shared.api.app import create_app
from shared.messaging.deadletters_api import router as dead_letters_router
from shared.runtime import Resources, install_readiness

DESCRIPTION = """Read models over every topic (`orders.v1`, `fulfillment.v1`, `defects.v1`,
`ads.v1`): sales, account health (ODR, late shipment, pre-fulfillment cancel and valid tracking
rates) with alerts on `analytics.v1`, advertising ratios with advice, the order trace ("why is my
order not showing?"), an operators' overview and a live dashboard at `/dashboard`."""


def build_app(resources: Resources[Dependencies]) -> FastAPI:
    deps = resources.deps

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        await deps.aclose()

    app = create_app(
        settings=deps.settings,
        title="Orderflow analytics",
        description=DESCRIPTION,
        routers=[
            sales.router,
            account_health.router,
            alerts.router,
            ads.router,
            trace.router,
            ops.router,
            dashboard.router,
            dead_letters_router,
        ],
        lifespan=lifespan,
    )
    install_readiness(app, resources)
    errors.install(app)
    dashboard.mount_static(app)
    return app
