"""Defects' composition root: what it stores, consumes, publishes and runs in the background."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession

from defects.adapters import orm
from defects.adapters.unit_of_work import SqlUnitOfWork
from defects.dependencies import Dependencies
from defects.entrypoints.api.app import build_app
from defects.entrypoints.kafka import handlers as kafka_handlers
from defects.service_layer import overdue
from defects.settings import DefectsSettings
from shared.events import orders
from shared.messaging.inbox import Batched, Handler
from shared.runtime import Resources, ServiceSpec
from shared.topics import DEFECTS, FULFILLMENT, ORDERS

MIGRATIONS = Path(__file__).resolve().parents[2] / "migrations"


def _handlers(deps: Dependencies) -> dict[str, Handler[SqlUnitOfWork]]:
    """One ``Batched`` handler per function: a run may mix the event types it handles."""
    functions = kafka_handlers.HANDLERS
    batched = {f: Batched[SqlUnitOfWork](f) for f in set(functions.values())}
    return {event_type: batched[f] for event_type, f in functions.items()}


def _joined(deps: Dependencies, session: AsyncSession) -> SqlUnitOfWork:
    """Defects' unit of work inside the consumer runner's transaction."""
    return SqlUnitOfWork.joining(session, topic=deps.topic)


async def flag_overdue_claims(resources: Resources[Dependencies]) -> None:
    """Every few seconds, flag claims whose deadline passed (once per deadline)."""
    deps = resources.deps
    await overdue.scan_forever(
        deps.uow,
        clock=deps.now,
        batch=deps.settings.overdue_scan_batch,
        every=deps.settings.overdue_scan_seconds,
    )


SPEC: ServiceSpec[DefectsSettings, Dependencies] = ServiceSpec(
    name="defects",
    tables=orm.plumbing,
    migrations_dir=MIGRATIONS,
    dependencies=Dependencies.build,
    build_app=build_app,
    handlers=_handlers,
    unit_of_work=_joined,
    subscribes=(ORDERS, FULFILLMENT),
    by_version=orders.SNAPSHOT_TYPES,
    publishes=(DEFECTS,),
    background=(flag_overdue_claims,),
)
