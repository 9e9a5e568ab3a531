"""Ingest's composition root: what it stores, publishes and runs in the background."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from ingest.adapters import orm
from ingest.dependencies import Dependencies
from ingest.entrypoints.api.app import build_app
from ingest.service_layer import confirmations, pii_retention, sync, uploads
from ingest.service_layer.unit_of_work import UnitOfWork
from ingest.settings import IngestSettings
from shared import topics
from shared.events.fulfillment import SHIPMENT_CONFIRMED, SHIPMENT_UPDATED
from shared.messaging.envelope import CloudEvent
from shared.messaging.inbox import Handler
from shared.runtime import Resources, ServiceSpec
from shared.unit_of_work import SqlUnitOfWork

MIGRATIONS = Path(__file__).resolve().parents[2] / "migrations"


class _Joined(SqlUnitOfWork):
    """The consumer runner's transaction, for a handler that takes its session."""

    outbox_table = orm.plumbing.outbox

    def _bind(self, session: AsyncSession) -> None:
        return None


def _joined(deps: Dependencies, session: AsyncSession) -> _Joined:
    return _Joined.joining(session)


def _handlers(deps: Dependencies) -> dict[str, Handler[_Joined]]:
    # Shipments confirmed in fulfillment are pushed back to Amazon from here: ingest holds the
    # sellers' SP-API connections (it is Orderflow's gateway to Amazon).
    confirm = confirmations.shipment_handler()

    async def on_shipment(uow: _Joined, event: CloudEvent, payload: Any) -> None:
        await confirm(uow.session, event, payload)

    return {SHIPMENT_CONFIRMED: on_shipment, SHIPMENT_UPDATED: on_shipment}


async def _resume_uploads(resources: Resources[Dependencies]) -> None:
    deps = resources.deps
    await uploads.resume_unfinished(
        lambda: UnitOfWork(deps.sessions),
        pii=deps.pii,
        topic=deps.settings.topic(topics.ORDERS),
        chunk=deps.settings.upload_chunk_orders,
    )


async def _purge_pii(resources: Resources[Dependencies]) -> None:
    await pii_retention.run_pii_purge(resources.sessions, clock=resources.deps.clock)


SPEC: ServiceSpec[IngestSettings, Dependencies] = ServiceSpec(
    name="ingest",
    tables=orm.plumbing,
    migrations_dir=MIGRATIONS,
    dependencies=Dependencies.build,
    build_app=build_app,
    handlers=_handlers,
    unit_of_work=_joined,
    subscribes=(topics.FULFILLMENT,),
    publishes=(topics.ORDERS, topics.ADS),
    background=(
        _resume_uploads,
        sync.run_poller,
        _purge_pii,
        confirmations.run_sender,
    ),
)
