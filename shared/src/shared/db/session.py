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
    default (see docs/adr/0003-no-pool-pre-ping.md): a connection that died in the pool
    (PostgreSQL restarted, a failover) fails its first statement; that failure invalidates the
    whole pool and is transient (``shared.errors.is_transient``): the API answers 503 with
    Retry-After, the consumer and the relay retry, and the next transaction reconnects."""
    return create_async_engine(
        url,
        pool_size=pool_size,
        # No overflow: never more than ``pool_size`` connections, so none is opened and
        # closed under steady load; requests beyond the pool wait their turn (a 503 after
        # pool_timeout, 30 s). See docs/adr/0001-no-connection-pool-overflow.md.
        max_overflow=0,
        pool_pre_ping=pre_ping,
        pool_recycle=1800,
        json_serializer=dump_json,
        json_deserializer=orjson.loads,
        connect_args={
            "timeout": 5,
            "command_timeout": 30,
            "prepared_statement_cache_size": 1000,
            # Plan each execution with its parameters, never with a cached generic plan (one
            # made while a table was small keeps scanning it whole as it grows): see
            # docs/adr/0002-custom-plans.md.
            # JIT off (compiling costs more than these short statements run) and lz4 for values
            # stored out of line (order documents, event payloads): see
            # docs/adr/0019-connection-settings-jit-lz4.md.
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
