"""Defects' composition root: what it stores, consumes, publishes and runs in the background."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession

from defects.adapters import orm
from defects.dependencies import Dependencies
from defects.entrypoints.api.app import build_app
from defects.service_layer import consumers, handlers
from defects.service_layer.unit_of_work import UnitOfWork
from defects.settings import DefectsSettings
from shared.events import fulfillment, orders
from shared.messaging.inbox import Batched, Events, Handler
from shared.runtime import Resources, ServiceSpec
from shared.topics import DEFECTS, FULFILLMENT, ORDERS
from shared.unit_of_work import SqlUnitOfWork

log = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).resolve().parents[2] / "migrations"

FULFILLMENT_FACTS = (
    fulfillment.SHIPMENT_CONFIRMED,
    fulfillment.SHIPMENT_UPDATED,
    fulfillment.ORDER_CANCELED,
    fulfillment.REFUND_ISSUED,
    fulfillment.RETURN_AUTHORIZED,
    fulfillment.RETURN_RECEIVED,
    fulfillment.ORDER_SHIP_LATE,
)


class _Joined(SqlUnitOfWork):
    """The consumer runner's transaction, for a handler that takes its session."""

    outbox_table = orm.plumbing.outbox

    def _bind(self, session: AsyncSession) -> None:
        return None


def _joined(deps: Dependencies, session: AsyncSession) -> _Joined:
    return _Joined.joining(session)


def _handlers(deps: Dependencies) -> dict[str, Handler[_Joined]]:
    topic = deps.topic

    async def on_orders(uow: _Joined, events: Events) -> None:
        await consumers.apply_orders(UnitOfWork.joining(uow.session, topic=topic), events)

    async def on_fulfillment(uow: _Joined, events: Events) -> None:
        await consumers.apply_fulfillment(UnitOfWork.joining(uow.session, topic=topic), events)

    orders_handler, fulfillment_handler = Batched(on_orders), Batched(on_fulfillment)
    return {
        orders.ORDER_CREATED: orders_handler,
        orders.ORDER_UPDATED: orders_handler,
        **{event_type: fulfillment_handler for event_type in FULFILLMENT_FACTS},
    }


async def flag_overdue_claims(resources: Resources[Dependencies]) -> None:
    """Every few seconds, flag claims whose deadline passed (once per deadline)."""
    deps = resources.deps
    while True:
        try:
            async with deps.uow() as uow:
                flagged = await handlers.flag_overdue(
                    uow, now=deps.now(), limit=deps.settings.overdue_scan_batch
                )
            if flagged:
                log.info("flagged overdue claims", extra={"count": len(flagged)})
        except Exception as exc:  # keep scanning: the next round retries
            log.warning("overdue scan failed", extra={"error": repr(exc)[:300]})
        await asyncio.sleep(deps.settings.overdue_scan_seconds)


SPEC: ServiceSpec[DefectsSettings, Dependencies] = ServiceSpec(
    name="defects",
    tables=orm.plumbing,
    migrations_dir=MIGRATIONS,
    dependencies=Dependencies.build,
    build_app=build_app,
    handlers=_handlers,
    unit_of_work=_joined,
    subscribes=(ORDERS, FULFILLMENT),
    publishes=(DEFECTS,),
    background=(flag_overdue_claims,),
)
