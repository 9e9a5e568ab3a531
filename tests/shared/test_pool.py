"""The connection pool without pre-ping: a connection that died in the pool (PostgreSQL
restarted, a failover) costs one transient failure, then the pool reconnects on its own."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import asyncpg
import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from shared.db.session import make_engine
from shared.errors import is_transient

pytestmark = pytest.mark.integration


async def _terminate_backends(url: str) -> int:
    """What a restart does to the pool's connections: their backends go away."""
    plain = make_url(url).set(drivername="postgresql")
    admin = await asyncpg.connect(plain.set(database="postgres").render_as_string(False))
    try:
        killed: int = await admin.fetchval(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = $1",
            plain.database,
        )
        return killed
    finally:
        await admin.close()


async def test_a_dead_pooled_connection_fails_once_as_transient_then_the_pool_reconnects(
    make_database: Callable[[str], str],
) -> None:
    url = make_database("pool")
    engine = make_engine(url, pool_size=3)
    try:

        async def query() -> int:
            async with engine.connect() as conn:
                await asyncio.sleep(0.05)  # hold it, so three run on three connections
                value: int = (await conn.execute(text("SELECT 1"))).scalar_one()
                return value

        assert list(await asyncio.gather(query(), query(), query())) == [1, 1, 1]
        assert engine.pool.checkedin() == 3  # type: ignore[attr-defined]
        # The pool's three, and any other backend on the database then (an autovacuum worker).
        assert await _terminate_backends(url) >= 3

        with pytest.raises(DBAPIError) as caught:
            await query()
        assert caught.value.connection_invalidated
        assert is_transient(caught.value)  # a 503 with Retry-After, or a retry

        # The failure invalidated the whole pool: the other two dead connections are
        # replaced when taken, not handed out to fail in their turn.
        assert list(await asyncio.gather(query(), query(), query())) == [1, 1, 1]
    finally:
        await engine.dispose()


async def test_pre_ping_still_hides_a_dead_connection_when_asked_for(
    make_database: Callable[[str], str],
) -> None:
    url = make_database("pool")
    engine = make_engine(url, pool_size=1, pre_ping=True)
    try:
        async with engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
        await _terminate_backends(url)
        async with engine.connect() as conn:
            assert (await conn.execute(text("SELECT 1"))).scalar_one() == 1
    finally:
        await engine.dispose()
