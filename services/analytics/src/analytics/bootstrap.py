"""Analytics' composition root: what it consumes, stores, publishes and runs in the background."""

from __future__ import annotations

from pathlib import Path

from analytics.adapters import orm
from analytics.entrypoints.api.app import build_app
from analytics.entrypoints.api.deps import utc_now
from analytics.service_layer import alerting, event_log, projections
from analytics.settings import AnalyticsSettings
from shared import topics
from shared.messaging.inbox import Handler
from shared.runtime import Resources, ServiceSpec

MIGRATIONS = Path(__file__).resolve().parents[2] / "migrations"


def _handlers(resources: Resources) -> dict[str, Handler]:
    return projections.handlers()


async def _alerts(resources: Resources) -> None:
    settings = resources.settings
    assert isinstance(settings, AnalyticsSettings)
    await alerting.run_forever(
        resources.sessions,
        topic=settings.topic(topics.ANALYTICS),
        interval=settings.alert_interval_seconds,
        seller_seconds=settings.alert_seller_seconds,
        clock=utc_now,
    )


async def _trim_event_log(resources: Resources) -> None:
    settings = resources.settings
    assert isinstance(settings, AnalyticsSettings)
    await event_log.run_forever(
        resources.sessions,
        days=settings.event_log_retention_days,
        batch=settings.event_log_trim_batch,
        interval=settings.event_log_trim_interval_seconds,
        clock=utc_now,
    )


SPEC = ServiceSpec(
    name="analytics",
    tables=orm.plumbing,
    migrations_dir=MIGRATIONS,
    build_app=build_app,
    handlers=_handlers,
    subscribes=(topics.ORDERS, topics.FULFILLMENT, topics.DEFECTS, topics.ADS),
    publishes=(topics.ANALYTICS,),
    background=(_alerts, _trim_event_log),
)
