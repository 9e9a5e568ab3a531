"""Analytics' FastAPI application."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI

from analytics.adapters.ingest_client import IngestClient, IngestPort, NoIngest
from analytics.adapters.kafka_lag import KafkaLag
from analytics.adapters.peers import Peers
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
from analytics.settings import AnalyticsSettings
from shared.api.app import create_app
from shared.messaging.deadletters_api import router as dead_letters_router
from shared.runtime import Resources, install_readiness

DESCRIPTION = """Read models over every topic (`orders.v1`, `fulfillment.v1`, `defects.v1`,
`ads.v1`): sales, account health (ODR, late shipment, pre-fulfillment cancel and valid tracking
rates) with alerts on `analytics.v1`, advertising ratios with advice, the order trace ("why is my
order not showing?"), an operators' overview and a live dashboard at `/dashboard`."""


def build_app(resources: Resources[Dependencies]) -> FastAPI:
    settings = resources.deps.settings
    ingest_http = _ingest_http(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        if ingest_http is not None:
            await ingest_http.aclose()

    app = create_app(
        settings=settings,
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
    ingest: IngestPort = NoIngest()
    if ingest_http is not None:
        ingest = IngestClient(ingest_http, api_key=settings.peer_api_key())
    app.state.ingest = ingest
    app.state.lag = KafkaLag(settings.kafka_bootstrap_servers)
    peers = {k: v for k, v in settings.urls_of_services().items() if k != "analytics"}
    app.state.peers = Peers(
        peers, api_key=settings.peer_api_key(), timeout=settings.peer_timeout_seconds
    )
    dashboard.mount_static(app)
    return app


def _ingest_http(settings: AnalyticsSettings) -> httpx.AsyncClient | None:
    url = settings.urls_of_services().get("ingest")
    if not url:
        return None
    return httpx.AsyncClient(base_url=url, timeout=settings.peer_timeout_seconds)
