"""Fulfillment's composition root: what it stores, consumes, publishes, runs in background."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from fulfillment.adapters import orm
from fulfillment.dependencies import Dependencies
from fulfillment.entrypoints.api.app import build_app
from fulfillment.service_layer import pii_retention, ship_clock, uploads
from fulfillment.service_layer.handlers import amazon_confirmation_handler, snapshot_handler
from fulfillment.settings import FulfillmentSettings
from shared import topics
from shared.events.orders import (
    ORDER_CREATED,
    ORDER_UPDATED,
    SHIPMENT_AMAZON_CONFIRMATION_FAILED,
    SHIPMENT_AMAZON_CONFIRMED,
)
from shared.messaging.envelope import CloudEvent
from shared.messaging.inbox import Batched, Events, Handler
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
    snapshots = snapshot_handler(topic=deps.topic, pii=deps.pii, clock=deps.now)
    confirmation = amazon_confirmation_handler(topic=deps.topic)

    async def on_snapshots(uow: _Joined, events: Events) -> None:
        await snapshots(uow.session, events)

    async def on_amazon_answer(uow: _Joined, event: CloudEvent, payload: Any) -> None:
        await confirmation(uow.session, event, payload)

    batched = Batched(on_snapshots)
    return {
        ORDER_CREATED: batched,
        ORDER_UPDATED: batched,
        SHIPMENT_AMAZON_CONFIRMED: on_amazon_answer,
        SHIPMENT_AMAZON_CONFIRMATION_FAILED: on_amazon_answer,
    }


async def _ship_clock(resources: Resources[Dependencies]) -> None:
    deps = resources.deps
    await ship_clock.run_ship_clock(
        deps.uow,
        clock=deps.now,
        interval=deps.settings.ship_late_interval_seconds,
        batch=deps.settings.ship_late_batch,
    )


async def _resume_uploads(resources: Resources[Dependencies]) -> None:
    deps = resources.deps
    await uploads.resume_unfinished(deps.uow, clock=deps.now, chunk=deps.settings.upload_chunk_rows)


async def _purge_pii(resources: Resources[Dependencies]) -> None:
    await pii_retention.run_pii_purge(resources.sessions, clock=resources.deps.now)


SPEC: ServiceSpec[FulfillmentSettings, Dependencies] = ServiceSpec(
    name="fulfillment",
    tables=orm.plumbing,
    migrations_dir=MIGRATIONS,
    dependencies=Dependencies.build,
    build_app=build_app,
    handlers=_handlers,
    unit_of_work=_joined,
    subscribes=(topics.ORDERS,),
    publishes=(topics.FULFILLMENT,),
    background=(_ship_clock, _resume_uploads, _purge_pii),
)
