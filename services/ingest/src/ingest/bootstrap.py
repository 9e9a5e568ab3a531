"""Ingest's composition root: what it stores, publishes and runs in the background."""

from __future__ import annotations

from pathlib import Path

from ingest.adapters import orm
from ingest.entrypoints.api.app import build_app
from ingest.service_layer import pii_retention, sync, uploads
from ingest.service_layer.unit_of_work import UnitOfWork
from shared import topics
from shared.kafka.consumer import Handler
from shared.pii import PIICipher
from shared.runtime import Resources, ServiceSpec

MIGRATIONS = Path(__file__).resolve().parents[2] / "migrations"


def _handlers(resources: Resources) -> dict[str, Handler]:
    resources.extras["pii"] = PIICipher(resources.settings.pii_key)
    return {}  # ingest consumes nothing


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
    publishes=(topics.ORDERS,),
    background=(_resume_uploads, sync.run_poller, pii_retention.run_pii_purge),
)
