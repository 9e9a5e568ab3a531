"""Keeps the plumbing tables bounded and measured.

Every ``interval`` seconds: sets the outbox backlog gauge, deletes outbox rows sent more than
``outbox_days`` ago and inbox rows older than ``inbox_days`` (longer than Kafka keeps the
messages they guard against, so a redelivered event is still recognised), and idempotency keys
older than ``idempotency_hours``. The deletes find their rows through BRIN indexes on the rows'
creation time (rows are appended in time order), never by scanning the tables: see
docs/adr/0014-brin-for-age-based-deletes.md.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from shared import metrics
from shared.db import idempotency
from shared.messaging.tables import PlumbingTables

log = logging.getLogger(__name__)


async def outbox_backlog(sessions: async_sessionmaker[AsyncSession], tables: PlumbingTables) -> int:
    o = tables.outbox.c
    async with sessions() as session:
        stmt = select(func.count()).select_from(tables.outbox).where(o.sent_at.is_(None))
        return int((await session.execute(stmt)).scalar_one())


async def prune(
    sessions: async_sessionmaker[AsyncSession],
    tables: PlumbingTables,
    *,
    outbox_days: int,
    inbox_days: int,
    idempotency_hours: float = 24.0,
) -> None:
    o, i = tables.outbox.c, tables.inbox.c
    sent_before = func.now() - timedelta(days=outbox_days)
    async with sessions() as session, session.begin():
        await session.execute(
            delete(tables.outbox).where(
                o.created_at < sent_before,  # what BRIN finds (a row is sent after it is made)
                o.sent_at < sent_before,
            )
        )
        await session.execute(
            delete(tables.inbox).where(i.applied_at < func.now() - timedelta(days=inbox_days))
        )
        await idempotency.purge(session, tables.idempotency_keys, hours=idempotency_hours)


async def run_housekeeping(
    sessions: async_sessionmaker[AsyncSession],
    tables: PlumbingTables,
    *,
    service: str,
    outbox_days: int = 7,
    inbox_days: int = 14,
    idempotency_hours: float = 24.0,
    interval: float = 10.0,
) -> None:
    while True:
        try:
            metrics.OUTBOX_BACKLOG.labels(service).set(await outbox_backlog(sessions, tables))
            await prune(
                sessions,
                tables,
                outbox_days=outbox_days,
                inbox_days=inbox_days,
                idempotency_hours=idempotency_hours,
            )
        except Exception as exc:  # the database may be down; try again next round
            log.warning("housekeeping failed", extra={"error": repr(exc)})
        await asyncio.sleep(interval)
