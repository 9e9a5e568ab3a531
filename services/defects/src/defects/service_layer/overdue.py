"""The overdue-claims scan: every few seconds, flag the claims whose deadline passed (once per
deadline), in batches; a failed round is logged and the next one retries."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime

from defects.service_layer import handlers
from defects.service_layer.unit_of_work import UnitOfWork

log = logging.getLogger(__name__)


async def scan_once(new_uow: Callable[[], UnitOfWork], *, now: datetime, batch: int) -> int:
    """Flag what is overdue now (``batch`` claims at most); how many were flagged."""
    flagged = await handlers.flag_overdue(new_uow(), now=now, limit=batch)
    if flagged:
        log.info("flagged overdue claims", extra={"count": len(flagged)})
    return len(flagged)


async def scan_forever(
    new_uow: Callable[[], UnitOfWork],
    *,
    clock: Callable[[], datetime],
    batch: int,
    every: float,
) -> None:
    while True:
        try:
            await scan_once(new_uow, now=clock(), batch=batch)
        except Exception as exc:  # keep scanning: the next round retries
            log.warning("overdue scan failed", extra={"error": repr(exc)[:300]})
        await asyncio.sleep(every)
