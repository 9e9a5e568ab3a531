"""Defects' FastAPI application."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from defects.entrypoints.api import errors
from defects.entrypoints.api.routers import claims, feedback, problem_orders
from shared.api.app import create_app
from shared.messaging import deadletters_api as deadletters
from shared.runtime import Resources, install_readiness

DESCRIPTION = """The cases that make up the order defect rate (ODR): A-to-z Guarantee claims,
chargebacks and negative feedback. Each case moves through one state machine, shows what is due
and when (information request 48 h, chargeback 7 days, appeal 30 days after a grant), whether it
counts toward the ODR and the rule that decided it (`odr_rule`), and an evidence packet assembled
from `orders.v1` and `fulfillment.v1`. Every change is published on `defects.v1`
(`claim.*`, `chargeback.*`, `feedback.*`) through a transactional outbox."""


def build_app(resources: Resources[Any]) -> FastAPI:
    app: FastAPI = create_app(
        settings=resources.settings,
        title="Orderflow defects",
        description=DESCRIPTION,
        routers=[claims.router, feedback.router, problem_orders.router, deadletters.router],
    )
    install_readiness(app, resources)
    errors.install(app)
    return app
