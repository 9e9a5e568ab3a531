"""Retention of the event log (``order_events``: every event analytics read, the timeline a
trace shows).

Without a bound it grew with every event the platform ever carried (three or more an order).
Rows recorded more than EVENT_LOG_RETENTION_DAYS ago are deleted in batches of
EVENT_LOG_TRIM_BATCH, one transaction each, every EVENT_LOG_TRIM_INTERVAL_SECONDS. Only the log
goes: the read models (sales, account health) keep the orders, and a trace of an older order
still finds it, without its timeline.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from analytics.service_layer.unit_of_work import UnitOfWork

log = logging.getLogger(__name__)


async def trim_once(
    new_uow: Callable[[], UnitOfWork], *, now: datetime, days: int, batch: int
) -> int:
    """Delete every row past retention, ``batch`` a transaction; answers how many."""
    before = now - timedelta(days=days)
    total = 0
    while True:
        async with new_uow() as uow:
            done = await uow.read_models.forget_events_before(before, batch)
            await uow.commit()
        total += done
        if done < batch:
            return total


async def run_forever(
    new_uow: Callable[[], UnitOfWork],
    *,
    days: int,
    batch: int,
    interval: float,
    clock: Callable[[], datetime],
) -> None:
    """Background job: trim the event log every ``interval`` seconds, forever."""
    while True:
        try:
            trimmed = await trim_once(new_uow, now=clock(), days=days, batch=batch)
            if trimmed:
                log.info("event log trimmed", extra={"rows": trimmed, "days": days})
        except Exception:  # a database hiccup must not end the job: log it and go on
            log.exception("event log trim failed")
        await asyncio.sleep(interval)
