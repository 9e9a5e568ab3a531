"""Analytics' composition root: what it consumes, stores, publishes and runs in the background."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession

from analytics.adapters import orm
from analytics.dependencies import Dependencies
from analytics.entrypoints.api.app import build_app
from analytics.entrypoints.kafka.handlers import handlers
from analytics.service_layer import alerting, event_log
from analytics.service_layer.unit_of_work import SqlUnitOfWork, UnitOfWork
from analytics.settings import AnalyticsSettings
from shared import topics
from shared.events import orders
from shared.messaging.inbox import Handler
from shared.runtime import Resources, ServiceSpec

MIGRATIONS = Path(__file__).resolve().parents[2] / "migrations"


def _handlers(deps: Dependencies) -> dict[str, Handler[UnitOfWork]]:
    return handlers()


def _joined(deps: Dependencies, session: AsyncSession) -> UnitOfWork:
    return SqlUnitOfWork.joining(session, topic=deps.topic)


async def _alerts(resources: Resources[Dependencies]) -> None:
    deps = resources.deps
    await alerting.run_forever(
        deps.uow,
        interval=deps.settings.alert_interval_seconds,
        seller_seconds=deps.settings.alert_seller_seconds,
        clock=deps.now,
    )


async def _trim_event_log(resources: Resources[Dependencies]) -> None:
    deps = resources.deps
    await event_log.run_forever(
        deps.uow,
        days=deps.settings.event_log_retention_days,
        batch=deps.settings.event_log_trim_batch,
        interval=deps.settings.event_log_trim_interval_seconds,
        clock=deps.now,
    )


SPEC: ServiceSpec[AnalyticsSettings, Dependencies] = ServiceSpec(
    name="analytics",
    tables=orm.plumbing,
    migrations_dir=MIGRATIONS,
    dependencies=Dependencies.build,
    build_app=build_app,
    handlers=_handlers,
    unit_of_work=_joined,
    subscribes=(topics.ORDERS, topics.FULFILLMENT, topics.DEFECTS, topics.ADS),
    by_version=orders.SNAPSHOT_TYPES,
    publishes=(topics.ANALYTICS,),
    background=(_alerts, _trim_event_log),
)
