"""Fulfillment's FastAPI application."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from fulfillment.entrypoints.api import errors
from fulfillment.entrypoints.api.routers import (
    orders,
    pickups,
    refunds,
    returns,
    shipments,
    tracking_events,
    uploads,
)
from shared.api.app import create_app
from shared.messaging import deadletters_api as deadletters
from shared.runtime import Resources, install_readiness

DESCRIPTION = """The seller's Manage Orders, for FBA (AFN, read-only: Amazon ships) and FBM (MFN)
orders. Keeps each order's fulfillment state from the `orders.v1` snapshots plus the seller's
actions (shipments, cancellations, refunds, returns, pickups) and the carriers' scans of
its parcels (`POST /v1/tracking-events`), which all go through one state
machine, and publishes what happens on `fulfillment.v1` through a transactional outbox."""


def build_app(resources: Resources[Any]) -> FastAPI:
    app = create_app(
        settings=resources.settings,
        title="Orderflow fulfillment",
        description=DESCRIPTION,
        routers=[
            uploads.router,
            orders.router,
            shipments.router,
            refunds.router,
            returns.router,
            pickups.router,
            tracking_events.router,
            deadletters.router,
        ],
    )
    install_readiness(app, resources)
    errors.install(app)
    return app
