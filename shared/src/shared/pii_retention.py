"""Buyer PII retention, the same job in every service that holds PII.

A service configures it with its ``Stores``: a name per place it keeps buyer PII and the SQL
that purges one batch there. Each statement takes ``:cutoff`` (rows due before it), ``:limit``
and ``:now`` (the purge's time, for a statement that records it), claims at most ``:limit``
rows with ``FOR UPDATE SKIP LOCKED`` (so several replicas can run the job side by side) and
answers how many rows it changed. ``purge_once`` purges each store in batches until nothing is
due; ``run_pii_purge`` does that every ``PII_PURGE_INTERVAL_SECONDS``. What each service keeps,
and for how long, is written with its statements (``adapters/pii_purge.py``).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from datetime import datetime, timedelta

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy import Executable, TextClause, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from shared.clock import Clock

log = logging.getLogger(__name__)

Stores = Mapping[str, Executable]


class PIIRetentionSettings(BaseSettings):
    model_config = SettingsConfigDict(env_file=None, extra="ignore", populate_by_name=True)

    days: int = Field(default=30, ge=0, le=3650, validation_alias="PII_RETENTION_DAYS")
    interval_seconds: float = Field(
        default=3600.0, gt=0, validation_alias="PII_PURGE_INTERVAL_SECONDS"
    )
    batch: int = Field(default=500, ge=1, le=10_000, validation_alias="PII_PURGE_BATCH")


async def purge_once(
    sessions: async_sessionmaker[AsyncSession],
    stores: Stores,
    *,
    now: datetime,
    days: int,
    batch: int,
) -> dict[str, int]:
    """Purge every store until nothing is due; one transaction per batch. Counts per store."""
    params = {"cutoff": now - timedelta(days=days), "now": now, "limit": batch}
    counts: dict[str, int] = {}
    for store, statement in stores.items():
        counts[store] = 0
        while True:
            async with sessions() as session, session.begin():
                result = await session.execute(statement, params)
            done = int(result.rowcount)  # type: ignore[attr-defined]
            counts[store] += done
            if done < batch:
                break
    return counts


async def run_pii_purge(
    sessions: async_sessionmaker[AsyncSession],
    stores: Stores,
    *,
    settings: PIIRetentionSettings,
    clock: Clock,
) -> None:
    """Background job: purge what is due every ``settings.interval_seconds``, forever."""
    while True:
        try:
            counts = await purge_once(
                sessions, stores, now=clock(), days=settings.days, batch=settings.batch
            )
            if any(counts.values()):
                log.info("buyer PII purged", extra={"purged": counts})
        except Exception:  # a database hiccup must not end the job: log it and go on
            log.exception("buyer PII purge failed")
        await asyncio.sleep(settings.interval_seconds)


def blank_buyer_pii_in_payloads(table: str, *, due: str) -> TextClause:
    """A statement that blanks the sealed buyer PII (``data.buyer_pii``) in the JSON event
    payloads kept in ``table`` (an outbox, dead letters), on rows for which ``due`` (SQL that
    reads ``:cutoff``) holds."""
    return text(
        f"""
    UPDATE {table}
    SET payload = convert_to(
        jsonb_set(convert_from(payload, 'UTF8')::jsonb, '{{data,buyer_pii}}', 'null'::jsonb)::text,
        'UTF8'
    )
    WHERE id IN (
        SELECT id FROM {table}
        WHERE {due}
          AND jsonb_typeof(convert_from(payload, 'UTF8')::jsonb -> 'data' -> 'buyer_pii')
              = 'object'
        ORDER BY id
        LIMIT :limit
        FOR UPDATE SKIP LOCKED
    )
    """
    )
