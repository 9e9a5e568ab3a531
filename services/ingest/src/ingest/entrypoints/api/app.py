"""Ingest's FastAPI application."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from ingest.adapters.amazon_v0 import AmazonOrder
from ingest.adapters.amazon_v2026 import Order
from ingest.entrypoints.api import errors
from ingest.entrypoints.api.routers import (
    ads,
    confirmations,
    connections,
    notifications,
    orders,
    quarantine,
    uploads,
)
from ingest.entrypoints.api.routers.orders import BatchIn
from shared.api.app import create_app
from shared.api.openapi import add_schemas
from shared.messaging import deadletters_api as deadletters
from shared.runtime import Resources, install_readiness

DESCRIPTION = """Takes orders in, as Amazon sends them (SP-API Orders v0 `Order` objects with
their `OrderItems`), one at a time, in batches of up to 1,000, or as a flat-file order report;
publishes `order.created` / `order.updated` on `orders.v1` through a transactional outbox;
quarantines every input it cannot accept, with the reasons."""


def build_app(resources: Resources[Any]) -> FastAPI:
    app = create_app(
        settings=resources.settings,
        title="Orderflow ingest",
        description=DESCRIPTION,
        routers=[
            orders.router,
            uploads.router,
            quarantine.router,
            ads.router,
            deadletters.router,
            connections.router,
            notifications.router,
            confirmations.router,
        ],
    )
    install_readiness(app, resources)
    errors.install(app)
    add_schemas(app, AmazonOrder, Order, BatchIn)
    return app
