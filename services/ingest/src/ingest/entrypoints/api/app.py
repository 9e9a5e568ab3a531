"""Ingest's one FastAPI application: intake's routers and the Amazon gateway's side by side,
each context with its own error mapping.

It lives here, above both contexts, because it composes them: in intake it would import the
gateway (which intake never does), and in the gateway it would make the gateway own intake's
HTTP surface.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from ingest.amazon.entrypoints.api import errors as gateway_errors
from ingest.amazon.entrypoints.api.routers import (
    confirmations,
    connections,
    notifications,
    submissions,
)
from ingest.intake.entrypoints.api import errors as intake_errors
from ingest.intake.entrypoints.api.routers import ads, orders, quarantine, uploads
from ingest.intake.entrypoints.api.routers.orders import BatchIn
from ingest.intake.service_layer.shapes import OrderV0, OrderV2026
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
            submissions.router,
        ],
    )
    install_readiness(app, resources)
    intake_errors.install(app)
    gateway_errors.install(app)
    add_schemas(app, OrderV0, OrderV2026, BatchIn)
    return app
