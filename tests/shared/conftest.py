"""A minimal "probe" service built from the shared plumbing alone, on real PostgreSQL and Kafka.

It consumes ``orders.v1`` and records one ``effects`` row per applied event, so tests can count
effects; orders whose ``seller_order_id`` is in ``FAILING`` make its handler raise.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy import BigInteger, Column, MetaData, Table, Text, insert
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine

from orderflow_testkit.harness import RunningService, running_service
from shared import topics
from shared.api.app import create_app
from shared.events.orders import OrderSnapshot
from shared.events.registry import build_event
from shared.messaging import deadletters_api as deadletters
from shared.messaging.envelope import CloudEvent
from shared.messaging.inbox import Handler
from shared.messaging.tables import define_plumbing
from shared.runtime import Resources, ServiceSpec, install_readiness
from shared.settings import ServiceSettings
from shared.unit_of_work import SqlUnitOfWork

metadata = MetaData()
plumbing = define_plumbing(metadata)
effects = Table(
    "effects",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=True),
    Column("event_id", UUID(as_uuid=True), nullable=False),
    Column("amazon_order_id", Text, nullable=False),
    Column("version", BigInteger, nullable=False),
)

FAILING: set[str] = set()
# Orders whose ``seller_order_id`` is ``HOLD_ID`` make the handler wait for ``HOLD`` to be set:
# a worker that cannot get on while its records wait (the stall tests).
HOLD_ID = "hold"
HOLD: dict[str, asyncio.Event] = {}
KEYS = "ops-key=ops,sys-key=system,seller-key=seller:A2SELLER1EXAMPLE"


class ProbeWork(SqlUnitOfWork):
    """The probe's unit of work: its handler writes to ``effects`` on the session."""

    outbox_table = plumbing.outbox

    def _bind(self, session: AsyncSession) -> None:
        return None


async def record_effect(uow: ProbeWork, event: CloudEvent, payload: Any) -> None:
    session = uow.session
    if payload.seller_order_id in FAILING:
        raise ValueError(f"refusing order {payload.amazon_order_id}")
    if payload.seller_order_id == HOLD_ID and HOLD_ID in HOLD:
        await HOLD[HOLD_ID].wait()
    await session.execute(
        insert(effects).values(
            event_id=event.id, amazon_order_id=payload.amazon_order_id, version=payload.version
        )
    )


def _handlers(deps: None) -> dict[str, Handler[ProbeWork]]:
    return {"order.created": record_effect, "order.updated": record_effect}


def _app(resources: Resources[None]) -> FastAPI:
    app = create_app(
        settings=resources.settings,
        title="probe",
        description="shared plumbing probe",
        routers=[deadletters.router],
    )
    install_readiness(app, resources)
    return app


PROBE: ServiceSpec[ServiceSettings, None] = ServiceSpec(
    name="probe",
    tables=plumbing,
    migrations_dir=Path("unused"),
    dependencies=lambda settings, sessions: None,
    build_app=_app,
    handlers=_handlers,
    unit_of_work=lambda deps, session: ProbeWork.joining(session),
    subscribes=topics.ALL,
)


def order_event(
    order_id: str, *, version: int = 1, seller_order_id: str | None = None
) -> CloudEvent:
    now = datetime.now(UTC)
    snapshot = OrderSnapshot(
        amazon_order_id=order_id,
        seller_id="A2SELLER1EXAMPLE",
        version=version,
        purchase_date=now,
        last_update_date=now,
        order_status="Unshipped",
        seller_order_id=seller_order_id,
    )
    return build_event(
        topic=topics.ORDERS,
        event_type="order.created" if version == 1 else "order.updated",
        payload=snapshot,
        source="probe-test",
        subject=order_id,
        seller_id="A2SELLER1EXAMPLE",
        version=version,
    )


@pytest.fixture
def probe_settings(
    make_database: Callable[[str], str], kafka_bootstrap: str, topic_prefix: str
) -> ServiceSettings:
    return ServiceSettings(
        service_name="probe",
        DATABASE_URL=make_database("probe"),
        KAFKA_BOOTSTRAP_SERVERS=kafka_bootstrap,
        KAFKA_TOPIC_PREFIX=f"{topic_prefix}{uuid.uuid4().hex[:6]}.",
        ORDERFLOW_API_KEYS=KEYS,
        CONSUMER_MAX_ATTEMPTS=3,
    )


@pytest.fixture
async def probe(probe_settings: ServiceSettings) -> AsyncIterator[RunningService]:
    engine = create_async_engine(probe_settings.database_url)
    async with engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
    await engine.dispose()
    FAILING.clear()
    async with running_service(PROBE, probe_settings, roles=("worker",), migrate=False) as svc:
        yield svc
