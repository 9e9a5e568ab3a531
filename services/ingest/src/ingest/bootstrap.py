"""Ingest's composition root: one process for both contexts (order intake and the Amazon
gateway), one database, what it publishes, consumes and runs in the background, and its
``notifications`` role (Amazon's notifications from SQS; also inside ``all``)."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession

from ingest.adapters import orm
from ingest.amazon.entrypoints.kafka.handlers import handler_table
from ingest.amazon.service_layer import (
    confirmations,
    feed_sender,
    performance_reports,
    sqs_notifications,
    sync,
)
from ingest.amazon.service_layer.unit_of_work import SqlGatewayUnitOfWork
from ingest.dependencies import Dependencies
from ingest.entrypoints.api.app import build_app
from ingest.intake.adapters import pii_purge
from ingest.intake.service_layer import uploads
from ingest.settings import IngestSettings
from shared import topics
from shared import uploads as upload_jobs
from shared.messaging.inbox import Handler
from shared.pii_retention import PIIRetentionSettings, run_pii_purge
from shared.runtime import Resources, ServiceSpec

MIGRATIONS = Path(__file__).resolve().parents[2] / "migrations"


def _handlers(deps: Dependencies) -> dict[str, Handler[SqlGatewayUnitOfWork]]:
    # Only the gateway consumes (fulfillment.v1 shipments, cancellations and refunds); a
    # handler typed on the abstract unit of work takes the SQL one.
    return dict(handler_table())


def _joined(deps: Dependencies, session: AsyncSession) -> SqlGatewayUnitOfWork:
    return SqlGatewayUnitOfWork.joining(session, topic=deps.settings.topic(topics.ORDERS))


async def _resume_uploads(resources: Resources[Dependencies]) -> None:
    deps = resources.deps
    job = uploads.job(
        deps.intake_uow,
        pii=deps.pii,
        topic=deps.settings.topic(topics.ORDERS),
        chunk=deps.settings.upload_chunk_orders,
        clock=deps.clock,
    )
    await upload_jobs.resume_unfinished(job)


async def _purge_pii(resources: Resources[Dependencies]) -> None:
    await run_pii_purge(
        resources.sessions,
        pii_purge.STATEMENTS,
        settings=PIIRetentionSettings(),
        clock=resources.deps.clock,
    )


async def _notifications(resources: Resources[Dependencies]) -> None:
    # FEED_PROCESSING_FINISHED reads that feed's report at once (the feed sender's poll would
    # read it later anyway).
    sender = feed_sender.feed_sender_of(resources)
    await sqs_notifications.run_notifications(resources, on_feed_finished=sender.on_feed_finished)


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
        feed_sender.run_feed_sender,
        performance_reports.run_performance_reports,
    ),
    # ``python -m ingest notifications``: long-polls SQS_QUEUE_URL (does nothing without one).
    roles={"notifications": _notifications},
)
