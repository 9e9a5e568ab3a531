"""Buyer PII retention (issue 7): gone PII_RETENTION_DAYS after an order ships or is canceled.

Amazon's Data Protection Policy lets a seller keep buyer PII only as long as needed to fulfil
the order and meet tax or legal duties, at most 30 days after delivery by default. Ingest holds
PII in four places, each purged in batches by a background job (``run_pii_purge``):

- ``orders.snapshot.buyer_pii``: removed once the order is Shipped or Canceled and its
  LastUpdateDate is older than N days; ``orders.pii_removed_at`` records when, and
  ``GET /v1/orders/{id}`` then says ``pii_status: removed``;
- ``quarantine.sealed_input`` (the rejected input, sealed): N days after it was received;
- ``uploads.content`` (flat files): N days after the upload finished;
- sealed buyer PII in the payloads of sent outbox rows older than N days (if still kept).

Kafka keeps the sealed (ciphertext) snapshots in orders.v1 until topic retention deletes them;
crypto-shredding (a key per order) is the complete answer and is not built.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ingest.adapters import pii_purge
from shared.runtime import Resources

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]


class PIIRetentionSettings(BaseSettings):
    model_config = SettingsConfigDict(env_file=None, extra="ignore", populate_by_name=True)

    days: int = Field(default=30, ge=0, le=3650, validation_alias="PII_RETENTION_DAYS")
    interval_seconds: float = Field(
        default=3600.0, gt=0, validation_alias="PII_PURGE_INTERVAL_SECONDS"
    )
    batch: int = Field(default=500, ge=1, le=10_000, validation_alias="PII_PURGE_BATCH")


async def purge_once(
    sessions: async_sessionmaker[AsyncSession],
    *,
    now: datetime,
    days: int,
    batch: int,
) -> dict[str, int]:
    """Purge every store until nothing is due; one transaction per batch. Counts per store."""
    cutoff = now - timedelta(days=days)
    counts: dict[str, int] = {}
    for store in pii_purge.STATEMENTS:
        total = 0
        while True:
            async with sessions() as session, session.begin():
                done = await pii_purge.purge_batch(
                    session, store, cutoff=cutoff, now=now, limit=batch
                )
            total += done
            if done < batch:
                break
        counts[store] = total
    return counts


def _utc_now() -> datetime:
    return datetime.now(UTC)


async def run_pii_purge(resources: Resources) -> None:
    """Background job: purge what is due every PII_PURGE_INTERVAL_SECONDS, forever."""
    settings = resources.extras.get("pii_retention") or PIIRetentionSettings()
    clock: Clock = resources.extras.get("clock", _utc_now)
    while True:
        try:
            counts = await purge_once(
                resources.sessions, now=clock(), days=settings.days, batch=settings.batch
            )
            if any(counts.values()):
                log.info("buyer PII purged", extra={"purged": counts})
        except Exception:  # a database hiccup must not end the job: log it and go on
            log.exception("buyer PII purge failed")
        await asyncio.sleep(settings.interval_seconds)
