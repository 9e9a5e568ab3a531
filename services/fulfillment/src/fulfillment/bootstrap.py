"""Fulfillment's composition root: what it stores, consumes, publishes, runs in background."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from fulfillment.adapters import orm, pii_purge
from fulfillment.adapters.pii import BuyerPII
from fulfillment.entrypoints.api.app import build_app
from fulfillment.service_layer import ship_clock, uploads
from fulfillment.service_layer.handlers import amazon_confirmation_handler, snapshot_handler
from fulfillment.service_layer.unit_of_work import UnitOfWork
from fulfillment.settings import FulfillmentSettings
from shared import topics
from shared import uploads as upload_jobs
from shared.events.orders import (
    ORDER_CREATED,
    ORDER_UPDATED,
    SHIPMENT_AMAZON_CONFIRMATION_FAILED,
    SHIPMENT_AMAZON_CONFIRMED,
)
from shared.messaging.inbox import Handler
from shared.pii_retention import PIIRetentionSettings, run_pii_purge
from shared.runtime import Resources, ServiceSpec

MIGRATIONS = Path(__file__).resolve().parents[2] / "migrations"


def utc_now() -> datetime:
    return datetime.now(UTC)


def new_uow(resources: Resources) -> UnitOfWork:
    return UnitOfWork(
        topic=resources.settings.topic(topics.FULFILLMENT), sessions=resources.sessions
    )


def _handlers(resources: Resources) -> dict[str, Handler]:
    pii = BuyerPII(resources.settings.pii_key)
    resources.extras["pii"] = pii
    resources.extras.setdefault("clock", utc_now)
    handle = snapshot_handler(
        topic=resources.settings.topic(topics.FULFILLMENT),
        pii=pii,
        clock=lambda: resources.extras["clock"](),
    )
    amazon = amazon_confirmation_handler(topic=resources.settings.topic(topics.FULFILLMENT))
    return {
        ORDER_CREATED: handle,
        ORDER_UPDATED: handle,
        SHIPMENT_AMAZON_CONFIRMED: amazon,
        SHIPMENT_AMAZON_CONFIRMATION_FAILED: amazon,
    }


def _settings(resources: Resources) -> FulfillmentSettings:
    settings = resources.settings
    assert isinstance(settings, FulfillmentSettings)
    return settings


async def _ship_clock(resources: Resources) -> None:
    settings = _settings(resources)
    await ship_clock.run_ship_clock(
        lambda: new_uow(resources),
        clock=lambda: resources.extras["clock"](),
        interval=settings.ship_late_interval_seconds,
        batch=settings.ship_late_batch,
    )


async def _resume_uploads(resources: Resources) -> None:
    job = uploads.job(
        lambda: new_uow(resources),
        clock=lambda: resources.extras["clock"](),
        chunk=_settings(resources).upload_chunk_rows,
    )
    await upload_jobs.resume_unfinished(job)


async def _purge_pii(resources: Resources) -> None:
    await run_pii_purge(
        resources.sessions,
        pii_purge.STATEMENTS,
        settings=PIIRetentionSettings(),
        clock=lambda: resources.extras["clock"](),
    )


SPEC = ServiceSpec(
    name="fulfillment",
    tables=orm.plumbing,
    migrations_dir=MIGRATIONS,
    build_app=build_app,
    handlers=_handlers,
    subscribes=(topics.ORDERS,),
    publishes=(topics.FULFILLMENT,),
    background=(_ship_clock, _resume_uploads, _purge_pii),
)
