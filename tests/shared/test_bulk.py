"""``shared.db.bulk``: many rows in one statement, on real PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import orjson
import pytest
from sqlalchemy import BigInteger, Column, DateTime, MetaData, Table, Text, select
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, create_async_engine

from shared.db import bulk

pytestmark = pytest.mark.integration

metadata = MetaData()
things = Table(
    "things",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=True),
    Column("name", Text, nullable=False),
    Column("doc", JSONB),
    Column("touched_at", DateTime(timezone=True)),
)
pairs = Table(
    "pairs",
    metadata,
    Column("a", Text, primary_key=True),
    Column("b", Text, primary_key=True),
    Column("note", Text),
)


@pytest.fixture
async def engine(make_database: Callable[[str], str]) -> AsyncIterator[AsyncEngine]:
    engine = create_async_engine(make_database("bulk"))
    async with engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
    yield engine
    await engine.dispose()


async def _all(session: AsyncSession, table: Table) -> list[Any]:
    return list((await session.execute(select(table).order_by(*table.primary_key))).all())


async def test_insert_rows_keeps_the_order_of_the_rows(engine: AsyncEngine) -> None:
    names = [f"n{i}" for i in (5, 3, 9, 1)]
    async with AsyncSession(engine) as session, session.begin():
        await bulk.insert_rows(session, things, [{"name": n, "doc": "{}"} for n in names])
        rows = await _all(session, things)
    assert [r.name for r in rows] == names  # ids were assigned in the rows' order


async def test_insert_new_skips_taken_keys_and_answers_the_keys_inserted(
    engine: AsyncEngine,
) -> None:
    async with AsyncSession(engine) as session, session.begin():
        first = await bulk.insert_new(
            session,
            pairs,
            [{"a": "x", "b": "1", "note": "old"}, {"a": "x", "b": "2", "note": "old"}],
        )
        again = await bulk.insert_new(
            session,
            pairs,
            [{"a": "x", "b": "2", "note": "new"}, {"a": "y", "b": "1", "note": "new"}],
        )
        rows = await _all(session, pairs)
    assert first == {("x", "1"), ("x", "2")}
    assert again == {("y", "1")}
    assert [(r.a, r.b, r.note) for r in rows] == [
        ("x", "1", "old"),
        ("x", "2", "old"),  # a taken key is left as it was
        ("y", "1", "new"),
    ]
    async with AsyncSession(engine) as session, session.begin():
        assert await bulk.insert_new(session, pairs, []) == set()


async def test_update_rows_sets_the_named_columns_of_each_key_and_touches(
    engine: AsyncEngine,
) -> None:
    async with AsyncSession(engine) as session, session.begin():
        await bulk.insert_rows(session, things, [{"name": n, "doc": "{}"} for n in "abc"])
    async with AsyncSession(engine) as session, session.begin():
        await bulk.update_rows(
            session,
            things,
            [
                {"id": 3, "doc": orjson.dumps({"k": [1, "c"]}).decode()},
                {"id": 1, "doc": orjson.dumps({"k": "a"}).decode()},
            ],
            touch="touched_at",
        )
        rows = await _all(session, things)
    assert [(r.name, r.doc, r.touched_at is not None) for r in rows] == [
        ("a", {"k": "a"}, True),
        ("b", {}, False),  # not named: untouched
        ("c", {"k": [1, "c"]}, True),
    ]
