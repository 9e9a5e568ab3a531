"""Fulfillment's composition root: what it stores, consumes, publishes, runs in background."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession

from fulfillment.adapters import orm, pii_purge
from fulfillment.dependencies import Dependencies
from fulfillment.entrypoints.api.app import build_app
from fulfillment.entrypoints.kafka.handlers import handler_table
from fulfillment.service_layer import background, uploads
from fulfillment.service_layer.unit_of_work import SqlUnitOfWork
from fulfillment.settings import FulfillmentSettings
from shared import topics
from shared import uploads as upload_jobs
from shared.events import orders
from shared.pii_retention import PIIRetentionSettings, run_pii_purge
from shared.runtime import Resources, ServiceSpec

MIGRATIONS = Path(__file__).resolve().parents[2] / "migrations"


def _joined(deps: Dependencies, session: AsyncSession) -> SqlUnitOfWork:
    return SqlUnitOfWork.joining(session, topic=deps.topic)


async def _ship_clock(resources: Resources[Dependencies]) -> None:
    deps = resources.deps
    await background.run_ship_clock(
        deps.uow,
        clock=deps.now,
        interval=deps.settings.ship_late_interval_seconds,
        batch=deps.settings.ship_late_batch,
    )


async def _resume_uploads(resources: Resources[Dependencies]) -> None:
    deps = resources.deps
    job = uploads.job(deps.uow, clock=deps.now, chunk=deps.settings.upload_chunk_rows)
    await upload_jobs.resume_unfinished(job)


async def _purge_pii(resources: Resources[Dependencies]) -> None:
    await run_pii_purge(
        resources.sessions,
        pii_purge.STATEMENTS,
        settings=PIIRetentionSettings(),
        clock=resources.deps.now,
    )


SPEC: ServiceSpec[FulfillmentSettings, Dependencies] = ServiceSpec(
    name="fulfillment",
    tables=orm.plumbing,
    migrations_dir=MIGRATIONS,
    dependencies=Dependencies.build,
    build_app=build_app,
    handlers=handler_table,
    unit_of_work=_joined,
    subscribes=(topics.ORDERS,),
    by_version=orders.SNAPSHOT_TYPES,
    publishes=(topics.FULFILLMENT,),
    background=(_ship_clock, _resume_uploads, _purge_pii),
)
