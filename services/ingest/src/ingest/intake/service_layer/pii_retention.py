"""Buyer PII retention: gone PII_RETENTION_DAYS after an order ships or is canceled.

Amazon's Data Protection Policy lets a seller keep buyer PII only as long as needed to fulfil
the order and meet tax or legal duties, at most 30 days after delivery by default. Ingest holds
PII in four places, each purged in batches by a background job (``run_pii_purge``):

- ``orders.snapshot.buyer_pii``: removed once the order is Shipped or Canceled and its
  LastUpdateDate is older than N days; ``orders.pii_removed_at`` records when, and
  ``GET /v1/orders/{id}`` then says ``pii_status: removed``;
- ``quarantine.sealed_input`` (the rejected input, sealed): N days after it was received;
- ``uploads.content`` (flat files, sealed): emptied when the upload's job is done; a file a
  job left behind (stored before that) N days after the upload finished;
- sealed buyer PII in the payloads of sent outbox rows older than N days (if still kept).

Kafka keeps the sealed (ciphertext) snapshots in orders.v1 until topic retention deletes them;
crypto-shredding (a key per order) is the complete answer and is not built.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ingest.intake.adapters import pii_purge
from shared import pii_retention

Clock = Callable[[], datetime]


async def purge_once(
    sessions: async_sessionmaker[AsyncSession], *, now: datetime, days: int, batch: int
) -> dict[str, int]:
    return await pii_retention.purge_once(sessions, pii_purge, now=now, days=days, batch=batch)


async def run_pii_purge(sessions: async_sessionmaker[AsyncSession], *, clock: Clock) -> None:
    await pii_retention.run_pii_purge(sessions, pii_purge, clock=clock)
