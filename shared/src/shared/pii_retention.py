"""Buyer PII retention, the same loop in every service that holds PII.

A service supplies its ``Purger`` (its SQL: a name per store in ``STATEMENTS`` and
``purge_batch``); ``purge_once`` purges each store in batches until nothing is due and
``run_pii_purge`` does that every ``PII_PURGE_INTERVAL_SECONDS``. The policy (what is kept,
how long) is written in each service's ``service_layer/pii_retention.py``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any, Protocol

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]


class Purger(Protocol):
    @property
    def STATEMENTS(self) -> Mapping[str, Any]: ...

    async def purge_batch(
        self, session: AsyncSession, store: str, *, cutoff: datetime, now: datetime, limit: int
    ) -> int: ...


class PIIRetentionSettings(BaseSettings):
    model_config = SettingsConfigDict(env_file=None, extra="ignore", populate_by_name=True)

    days: int = Field(default=30, ge=0, le=3650, validation_alias="PII_RETENTION_DAYS")
    interval_seconds: float = Field(
        default=3600.0, gt=0, validation_alias="PII_PURGE_INTERVAL_SECONDS"
    )
    batch: int = Field(default=500, ge=1, le=10_000, validation_alias="PII_PURGE_BATCH")


async def purge_once(
    sessions: async_sessionmaker[AsyncSession],
    purger: Purger,
    *,
    now: datetime,
    days: int,
    batch: int,
) -> dict[str, int]:
    """Purge every store until nothing is due; one transaction per batch. Counts per store."""
    cutoff = now - timedelta(days=days)
    counts: dict[str, int] = {}
    for store in purger.STATEMENTS:
        total = 0
        while True:
            async with sessions() as session, session.begin():
                done = await purger.purge_batch(session, store, cutoff=cutoff, now=now, limit=batch)
            total += done
            if done < batch:
                break
        counts[store] = total
    return counts


async def run_pii_purge(
    sessions: async_sessionmaker[AsyncSession],
    purger: Purger,
    *,
    clock: Clock,
    settings: PIIRetentionSettings | None = None,
) -> None:
    """Background job: purge what is due every PII_PURGE_INTERVAL_SECONDS, forever."""
    settings = settings or PIIRetentionSettings()
    while True:
        try:
            counts = await purge_once(
                sessions,
                purger,
                now=clock(),
                days=settings.days,
                batch=settings.batch,
            )
            if any(counts.values()):
                log.info("buyer PII purged", extra={"purged": counts})
        except Exception:  # a database hiccup must not end the job: log it and go on
            log.exception("buyer PII purge failed")
        await asyncio.sleep(settings.interval_seconds)
