"""Transactional outbox: the only way an Orderflow service publishes.

``add_event`` writes the event in the caller's transaction, beside the change it announces.
``OutboxRelay`` (in ``shared.messaging.relay``) publishes unsent rows and marks them sent.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Table, insert
from sqlalchemy.ext.asyncio import AsyncSession
from uuid_utils.compat import uuid7

from shared.db import bulk
from shared.messaging.envelope import CloudEvent


async def add_event(session: AsyncSession, outbox: Table, *, topic: str, event: CloudEvent) -> None:
    await add_events(session, outbox, topic=topic, events=[event])


async def add_events(
    session: AsyncSession,
    outbox: Table,
    *,
    topic: str,
    events: Sequence[CloudEvent],
    payloads: Sequence[bytes] | None = None,
) -> None:
    """Queue events in this order, with one statement. ``payloads``: the events' bytes, when
    the caller has them already (ingest weighs each order's event before accepting it)."""
    if not events:
        return
    raw = payloads if payloads is not None else [event.to_bytes() for event in events]
    await bulk.insert_rows(
        session,
        outbox,
        [
            {
                "event_id": event.id,
                "topic": topic,
                "message_key": event.subject,
                "event_type": event.type,
                "aggregate_version": event.aggregateversion,
                "payload": payload,
            }
            for event, payload in zip(events, raw, strict=True)
        ],
    )


async def add_raw(
    session: AsyncSession,
    outbox: Table,
    *,
    topic: str,
    key: str,
    payload: bytes,
    event_type: str,
    headers: dict[str, str],
) -> None:
    """Queue a message that is not a new event (a dead letter keeps its original bytes)."""
    await session.execute(
        insert(outbox).values(
            event_id=uuid7(),
            topic=topic,
            message_key=key,
            event_type=event_type,
            payload=payload,
            headers=headers,
        )
    )
