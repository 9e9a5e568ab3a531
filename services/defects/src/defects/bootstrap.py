"""Defects' composition root: what it stores, consumes, publishes and runs in the background."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession

from defects.adapters import orm
from defects.entrypoints.api.app import build_app
from defects.service_layer import consumers, handlers
from defects.service_layer.unit_of_work import UnitOfWork
from shared.events import fulfillment, orders
from shared.messaging.inbox import Batched, Events, Handler
from shared.runtime import Resources, ServiceSpec
from shared.topics import DEFECTS, FULFILLMENT, ORDERS

log = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).resolve().parents[2] / "migrations"

Clock = Callable[[], datetime]

FULFILLMENT_FACTS = (
    fulfillment.SHIPMENT_CONFIRMED,
    fulfillment.SHIPMENT_UPDATED,
    fulfillment.ORDER_CANCELED,
    fulfillment.REFUND_ISSUED,
    fulfillment.RETURN_AUTHORIZED,
    fulfillment.RETURN_RECEIVED,
    fulfillment.ORDER_SHIP_LATE,
)


def utc_now() -> datetime:
    return datetime.now(UTC)


def clock_of(resources: Resources) -> Clock:
    """The injected clock (tests replace ``resources.extras["clock"]``)."""
    clock: Clock = resources.extras.get("clock", utc_now)
    return clock


def _handlers(resources: Resources) -> dict[str, Handler]:
    resources.extras.setdefault("clock", utc_now)
    topic = resources.settings.topic(DEFECTS)

    async def on_orders(session: AsyncSession, events: Events) -> None:
        await consumers.apply_orders(UnitOfWork.joining(session, topic=topic), events)

    async def on_fulfillment(session: AsyncSession, events: Events) -> None:
        await consumers.apply_fulfillment(UnitOfWork.joining(session, topic=topic), events)

    orders_handler, fulfillment_handler = Batched(on_orders), Batched(on_fulfillment)
    return {
        orders.ORDER_CREATED: orders_handler,
        orders.ORDER_UPDATED: orders_handler,
        **{event_type: fulfillment_handler for event_type in FULFILLMENT_FACTS},
    }


async def flag_overdue_claims(resources: Resources) -> None:
    """Every few seconds, flag claims whose deadline passed (once per deadline)."""
    settings = resources.settings
    interval = float(getattr(settings, "overdue_scan_seconds", 5.0))
    batch = int(getattr(settings, "overdue_scan_batch", 200))
    while True:
        try:
            async with UnitOfWork(resources.sessions, topic=settings.topic(DEFECTS)) as uow:
                flagged = await handlers.flag_overdue(uow, now=clock_of(resources)(), limit=batch)
            if flagged:
                log.info("flagged overdue claims", extra={"count": len(flagged)})
        except Exception as exc:  # keep scanning: the next round retries
            log.warning("overdue scan failed", extra={"error": repr(exc)[:300]})
        await asyncio.sleep(interval)


SPEC = ServiceSpec(
    name="defects",
    tables=orm.plumbing,
    migrations_dir=MIGRATIONS,
    build_app=build_app,
    handlers=_handlers,
    subscribes=(ORDERS, FULFILLMENT),
    publishes=(DEFECTS,),
    background=(flag_overdue_claims,),
)
