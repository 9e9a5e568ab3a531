"""Buyer PII retention: gone PII_RETENTION_DAYS after an order ships or is canceled.

Amazon's Data Protection Policy lets a seller keep buyer PII only as long as needed to fulfil
the order and meet tax or legal duties. Fulfillment holds it in two places, purged in batches
by a background job (``run_pii_purge``):

- ``orders``: the sealed ``buyer_pii`` (packing slips) and ``buyer_email_hash`` (search by
  e-mail) of an order Shipped or Canceled more than N days ago; ``pii_removed_at`` records
  when. ``GET /v1/orders/{id}`` then says ``pii_status: removed``, the packing slip answers
  410 Gone, and later snapshots of the order do not bring the PII back;
- ``dead_letters``: sealed buyer PII in dead-lettered orders.v1 payloads older than N days.

Kafka keeps the sealed (ciphertext) snapshots in orders.v1 until topic retention deletes them;
crypto-shredding (a key per order) is the complete answer and is not built.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from fulfillment.adapters import pii_purge
from shared import pii_retention

Clock = Callable[[], datetime]


async def purge_once(
    sessions: async_sessionmaker[AsyncSession], *, now: datetime, days: int, batch: int
) -> dict[str, int]:
    return await pii_retention.purge_once(sessions, pii_purge, now=now, days=days, batch=batch)


async def run_pii_purge(sessions: async_sessionmaker[AsyncSession], *, clock: Clock) -> None:
    await pii_retention.run_pii_purge(sessions, pii_purge, clock=clock)
