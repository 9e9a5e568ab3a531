"""The idempotency key's fence: an attempt whose lease ran out and whose key a retry took over
cannot commit its work any more, so the work is never done twice however slow an attempt is.
See docs/adr/0040-idempotency-keys.md."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, insert, select, update

from orderflow_testkit.harness import RunningService
from shared.db import idempotency

from .conftest import effects, plumbing

pytestmark = pytest.mark.integration

REQUEST = idempotency.Request(
    scope="seller:A2SELLER1EXAMPLE", key="k-1", fingerprint="f", method="POST", path="/v1/x"
)
LEASE = timedelta(minutes=1)


async def _work(probe: RunningService, owner: object, order: str) -> None:
    """A transaction doing some work and marking the key committed in it."""
    async with probe.resources.sessions() as session, session.begin():
        await session.execute(
            insert(effects).values(
                event_id=func.gen_random_uuid(), amazon_order_id=order, version=1
            )
        )
        await session.run_sync(
            idempotency.mark_committed, plumbing.idempotency_keys, REQUEST.scope, REQUEST.key, owner
        )


async def test_a_taken_over_attempt_cannot_commit_its_work(probe: RunningService) -> None:
    sessions, table = probe.resources.sessions, plumbing.idempotency_keys
    slow, _ = await idempotency.claim(sessions, table, REQUEST, lease=LEASE)
    assert slow is not None
    again, held = await idempotency.claim(sessions, table, REQUEST, lease=LEASE)
    assert again is None and held is not None and held.running  # still held: refused
    async with sessions() as session, session.begin():
        await session.execute(update(table).values(locked_until=func.now()))  # the lease ends
    retry, _ = await idempotency.claim(sessions, table, REQUEST, lease=LEASE)
    assert retry is not None and retry != slow
    with pytest.raises(idempotency.Superseded):
        await _work(probe, slow, "slow")
    await _work(probe, retry, "retry")
    async with sessions() as session:
        done = (await session.execute(select(effects.c.amazon_order_id))).scalars().all()
    assert done == ["retry"]
    assert await idempotency.finish(
        sessions,
        table,
        scope=REQUEST.scope,
        key=REQUEST.key,
        owner=retry,
        response=(201, {"content-type": "application/json"}, b"{}"),
    )
    _, kept = await idempotency.claim(sessions, table, REQUEST, lease=LEASE)
    assert kept is not None and kept.status == 201


async def test_a_committed_attempt_is_never_taken_over(probe: RunningService) -> None:
    sessions, table = probe.resources.sessions, plumbing.idempotency_keys
    first, _ = await idempotency.claim(sessions, table, REQUEST, lease=LEASE)
    await _work(probe, first, "first")
    async with sessions() as session, session.begin():
        await session.execute(update(table).values(locked_until=func.now()))
    retry, found = await idempotency.claim(sessions, table, REQUEST, lease=LEASE)
    assert retry is None and found is not None
    assert found.committed and not found.running and found.status is None
