"""Engine and session factory, built by each process's composition root."""

from __future__ import annotations

import json
from typing import Any

import orjson
from sqlalchemy import text
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)


def make_engine(url: str, *, pool_size: int = 10, pre_ping: bool = False) -> AsyncEngine:
    """``pre_ping``: test every connection taken from the pool with a round trip first. Off by
    default: it was 5-6% of every service's CPU at 1,000 orders/s, and a round trip more on
    each hop of an order's way. Without it, a connection that died in the pool (PostgreSQL
    restarted, a failover) fails its first statement; that failure invalidates the whole pool
    and is transient (``shared.errors.is_transient``): the API answers 503 with Retry-After,
    the consumer and the relay retry, and the next transaction reconnects."""
    return create_async_engine(
        url,
        pool_size=pool_size,
        # No overflow: SQLAlchemy closes an overflow connection as soon as it is returned to
        # a full pool, so a steady load above ``pool_size`` opened and closed connections all
        # the time, and each new backend cost PostgreSQL about 0.15 s of CPU (its caches,
        # every statement prepared again). Single orders at 400/s with 32 in flight: 164
        # connections opened, 139 requests/s; without overflow 7 and 176/s. Requests beyond
        # the pool wait their turn (a 503 after pool_timeout, 30 s).
        max_overflow=0,
        pool_pre_ping=pre_ping,
        pool_recycle=1800,
        json_serializer=dump_json,
        json_deserializer=orjson.loads,
        connect_args={
            "timeout": 5,
            "command_timeout": 30,
            "prepared_statement_cache_size": 1000,
            # Plan each execution with its parameters. A cached generic plan made while a table
            # was small (a fresh database) kept scanning it whole as it grew: `id = ANY($1)` of
            # a batch went from ~1 ms to ~45 ms at 30,000 rows. Statements here are few and
            # set-based, so planning each one costs little.
            # JIT off: compiling a statement with LLVM costs tens of milliseconds, more than
            # these short statements run; analytics' account-health aggregate spent more time
            # in JIT than in the query.
            # lz4 for values too large to stay inline (order documents, event payloads, about
            # 2 KB each): pglz, the default, spent its time failing to compress them. Inserting
            # 20,000 fulfillment orders: 990 -> 543 ms, 59 -> 40 MB.
            "server_settings": {
                "plan_cache_mode": "force_custom_plan",
                "jit": "off",
                "default_toast_compression": "lz4",
            },
        },
    )


def dump_json(value: Any) -> str:
    """JSON/JSONB parameters: orjson (several times faster than ``json``), falling back to
    ``json`` for what orjson refuses (integers beyond 64 bits)."""
    try:
        return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()
    except TypeError:
        return json.dumps(value)


def make_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=False)


async def ping(engine: AsyncEngine) -> None:
    async with engine.connect() as conn:
        await conn.execute(text("SELECT 1"))
