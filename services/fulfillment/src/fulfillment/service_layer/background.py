"""Fulfillment's own background job; uploads and PII retention have their modules.

The ship-by clock: flag FBM orders still unshipped past their LatestShipDate, once each.

Runs as a background job every ``ship_late_interval_seconds``; each batch is one transaction
that locks its rows with ``FOR UPDATE SKIP LOCKED``, so several instances share the work and
an order is flagged (and ``order.ship_late`` published) exactly once.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime

from fulfillment.service_layer.handlers import flag_late_orders
from fulfillment.service_layer.unit_of_work import UnitOfWork

log = logging.getLogger(__name__)


async def run_ship_clock(
    new_uow: Callable[[], UnitOfWork],
    *,
    clock: Callable[[], datetime],
    interval: float,
    batch: int,
) -> None:
    while True:
        try:
            flagged = await flag_once(new_uow, clock=clock, batch=batch)
        except Exception as exc:  # keep the clock ticking through a database outage
            log.warning("ship-by clock run failed", extra={"error": repr(exc)[:300]})
            flagged = 0
        if flagged < batch:
            await asyncio.sleep(interval)


async def flag_once(
    new_uow: Callable[[], UnitOfWork], *, clock: Callable[[], datetime], batch: int
) -> int:
    async with new_uow() as uow:
        flagged = await flag_late_orders(uow, now=clock(), batch=batch)
        await uow.commit()
    if flagged:
        log.info("flagged orders late", extra={"count": flagged})
    return flagged
