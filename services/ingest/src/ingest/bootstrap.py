"""Ingest's composition root: what it stores, publishes and runs in the background."""

from __future__ import annotations

from pathlib import Path

from ingest.adapters import orm, pii_purge
from ingest.entrypoints.api.app import build_app
from ingest.service_layer import confirmations, sync, uploads
from ingest.service_layer.unit_of_work import UnitOfWork
from shared import topics
from shared import uploads as upload_jobs
from shared.clock import utc_now
from shared.events.fulfillment import SHIPMENT_CONFIRMED, SHIPMENT_UPDATED
from shared.messaging.inbox import Handler
from shared.pii import PIICipher
from shared.pii_retention import PIIRetentionSettings, run_pii_purge
from shared.runtime import Resources, ServiceSpec

MIGRATIONS = Path(__file__).resolve().parents[2] / "migrations"


def _handlers(resources: Resources) -> dict[str, Handler]:
    resources.extras["pii"] = PIICipher(resources.settings.pii_key)
    # Shipments confirmed in fulfillment are pushed back to Amazon from here: ingest holds the
    # sellers' SP-API connections (it is Orderflow's gateway to Amazon).
    confirm = confirmations.shipment_handler()
    return {SHIPMENT_CONFIRMED: confirm, SHIPMENT_UPDATED: confirm}


async def _resume_uploads(resources: Resources) -> None:
    settings = resources.settings
    job = uploads.job(
        lambda: UnitOfWork(resources.sessions),
        pii=resources.extras["pii"],
        topic=settings.topic(topics.ORDERS),
        chunk=getattr(settings, "upload_chunk_orders", 200),
        clock=utc_now,
    )
    await upload_jobs.resume_unfinished(job)


async def _purge_pii(resources: Resources) -> None:
    await run_pii_purge(
        resources.sessions, pii_purge.STATEMENTS, settings=PIIRetentionSettings(), clock=utc_now
    )


SPEC = ServiceSpec(
    name="ingest",
    tables=orm.plumbing,
    migrations_dir=MIGRATIONS,
    build_app=build_app,
    handlers=_handlers,
    subscribes=(topics.FULFILLMENT,),
    publishes=(topics.ORDERS,),
    background=(
        _resume_uploads,
        sync.run_poller,
        _purge_pii,
        confirmations.run_sender,
    ),
)
