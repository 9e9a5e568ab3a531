"""Housekeeping keeps the outbox and inbox bounded and reports the outbox backlog."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import func, insert, select, text

from orderflow_testkit.harness import RunningService
from shared.messaging.housekeeping import outbox_backlog, prune

from .conftest import plumbing

pytestmark = pytest.mark.integration


async def test_prune_removes_only_old_sent_rows_and_backlog_counts_unsent(
    probe: RunningService,
) -> None:
    sessions = probe.resources.sessions
    days_ago = {n: text(f"now() - interval '{n} days'") for n in (8, 9)}
    rows = [
        {"created_at": days_ago[9], "sent_at": days_ago[8]},  # sent long ago: pruned
        {"created_at": days_ago[9], "sent_at": text("now()")},  # sent late, just now: kept
        {"sent_at": text("now()")},  # sent just now: kept
        {"sent_at": None},  # not sent yet: kept, counted as backlog
    ]
    async with sessions() as session, session.begin():
        for row in rows:
            await session.execute(
                insert(plumbing.outbox).values(
                    event_id=uuid.uuid4(),
                    topic="t",
                    message_key="k",
                    event_type="x",
                    payload=b"{}",
                    **row,
                )
            )
        await session.execute(
            insert(plumbing.inbox).values(
                event_id=uuid.uuid4(),
                topic="t",
                event_type="x",
                applied_at=text("now() - interval '15 days'"),
            )
        )
    assert await outbox_backlog(sessions, plumbing) == 1
    await prune(sessions, plumbing, outbox_days=7, inbox_days=14)
    async with sessions() as session:
        left = await session.execute(select(func.count()).select_from(plumbing.outbox))
        inbox = await session.execute(select(func.count()).select_from(plumbing.inbox))
        assert (left.scalar_one(), inbox.scalar_one()) == (3, 0)


async def test_prune_removes_idempotency_keys_older_than_their_retention(
    probe: RunningService,
) -> None:
    sessions = probe.resources.sessions
    table = plumbing.idempotency_keys
    async with sessions() as session, session.begin():
        for key, hours in (("old", 25), ("recent", 23)):
            await session.execute(
                insert(table).values(
                    scope="seller:A2SELLER1EXAMPLE",
                    key=key,
                    fingerprint="f",
                    method="POST",
                    path="/v1/x",
                    owner=uuid.uuid4(),
                    locked_until=text("now()"),
                    created_at=text(f"now() - interval '{hours} hours'"),
                )
            )
    await prune(sessions, plumbing, outbox_days=7, inbox_days=14, idempotency_hours=24)
    async with sessions() as session:
        left = (await session.execute(select(table.c.key))).scalars().all()
    assert left == ["recent"]
