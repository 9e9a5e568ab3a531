"""Ingest's composition root: what it stores, publishes and runs in the background."""

from __future__ import annotations

from pathlib import Path

from ingest.adapters import orm
from ingest.entrypoints.api.app import build_app
from ingest.service_layer import confirmations, pii_retention, sync, uploads
from ingest.service_layer.unit_of_work import UnitOfWork
from shared import topics
from shared.events.fulfillment import SHIPMENT_CONFIRMED, SHIPMENT_UPDATED
from shared.messaging.inbox import Handler
from shared.pii import PIICipher
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
    await uploads.resume_unfinished(
        lambda: UnitOfWork(resources.sessions),
        pii=resources.extras["pii"],
        topic=settings.topic(topics.ORDERS),
        chunk=getattr(settings, "upload_chunk_orders", 200),
    )


SPEC = ServiceSpec(
    name="ingest",
    tables=orm.plumbing,
    migrations_dir=MIGRATIONS,
    build_app=build_app,
    handlers=_handlers,
    subscribes=(topics.FULFILLMENT,),
    publishes=(topics.ORDERS, topics.ADS),
    background=(
        _resume_uploads,
        sync.run_poller,
        pii_retention.run_pii_purge,
        confirmations.run_sender,
    ),
)
