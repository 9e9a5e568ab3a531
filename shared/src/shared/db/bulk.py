"""Set-based writes of many rows: each column travels as one array and ``unnest`` turns the
arrays back into rows, so a statement has as many parameters as columns, whatever the number
of rows, and is compiled and prepared once.

Every multi-row write goes through here: inserts (``insert_rows``, ``insert_new``), updates
(``update_rows``) and the upsert guarded by version (``upsert_newer``). One statement text
whatever the number of rows also means one prepared statement per connection: an executemany
(``INSERT ... VALUES`` per row, or SQLAlchemy's "insertmanyvalues" pages of N rows) runs one
execution per row or prepares a new statement for every page size it meets.

Each array parameter is named after its column with a ``rows_`` prefix (an UPDATE reserves the
column names for its SET clause). JSONB values are given as JSON text (asyncpg has no codec
for arrays of jsonb) and cast back.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

from sqlalchemy import ARRAY, Column, Table, Text, bindparam, cast, func, select, update
from sqlalchemy.dialects.postgresql import JSONB, Insert, insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.selectable import TableValuedAlias

PREFIX = "rows_"


def any_of(name: str = "ids") -> Any:
    """One ``text[]`` parameter, given at execution (``{name: [...]}``), for ``column ==
    any_(any_of())``: the statement text stays the same whatever the number of values (``IN``
    would render one placeholder per value, so one prepared statement per count).

    Build such a statement once (at module level, or cached per table) rather than per call
    with its values inside: SQLAlchemy memoizes a parameter's comparator on the parameter, a
    reference cycle that keeps each call's values until the cyclic collector runs. See
    docs/adr/0006-garbage-collector-tuning.md."""
    return bindparam(name, type_=ARRAY(Text))


def _keys(table: Table) -> list[str]:
    return [c.name for c in table.primary_key.columns]


def _in_key_order(
    table: Table, rows: Sequence[dict[str, Any]]
) -> tuple[tuple[str, ...], list[dict[str, Any]]]:
    """The rows' column names and the rows sorted by primary key: writers whose rows overlap
    lock them in one order."""
    keys = _keys(table)
    return tuple(rows[0]), sorted(rows, key=lambda row: [str(row[k]) for k in keys])


def rows_of(table: Table, names: Sequence[str]) -> TableValuedAlias:
    """``unnest(:<name>, ...) WITH ORDINALITY AS (<names>, n)``: one array parameter per named
    column of ``table`` (``arrays`` makes them), typed as the columns, ``n`` the row's place."""
    columns = [table.c[name] for name in names]
    arrays = [cast(bindparam(PREFIX + c.name), ARRAY(_wire_type(c))) for c in columns]
    return (
        func.unnest(*arrays)
        .table_valued(*(c.name for c in columns), with_ordinality="n")
        .render_derived()
    )


def arrays(rows: Sequence[dict[str, Any]], names: Sequence[str]) -> dict[str, list[Any]]:
    """The parameters of ``rows_of``: one list per column, in the rows' order."""
    return {PREFIX + name: [row[name] for row in rows] for name in names}


@functools.cache
def insert_statement(table: Table, names: tuple[str, ...]) -> Insert:
    """``INSERT INTO table (names) SELECT ... FROM unnest(...) ORDER BY n`` (built once)."""
    rows = rows_of(table, names)
    values = [_typed(rows, table.c[name]) for name in names]
    return insert(table).from_select(list(names), select(*values).order_by(rows.c.n))


async def insert_rows(session: AsyncSession, table: Table, rows: Sequence[dict[str, Any]]) -> None:
    """Insert ``rows`` (all with the same keys) in their order, with one statement."""
    if rows:
        names = tuple(rows[0])
        await session.execute(insert_statement(table, names), arrays(rows, names))


@functools.cache
def _insert_new_statement(table: Table, names: tuple[str, ...]) -> Any:
    keys = _keys(table)
    return (
        insert_statement(table, names)
        .on_conflict_do_nothing(index_elements=keys)
        .returning(*(table.c[k] for k in keys))
    )


async def insert_new(
    session: AsyncSession, table: Table, rows: Sequence[dict[str, Any]]
) -> set[Any]:
    """Insert the rows whose primary key is free (in key order: concurrent writers of
    overlapping rows wait on each other in one order); the keys inserted (a single-column key
    as its value, a composite one as a tuple)."""
    if not rows:
        return set()
    names, ordered = _in_key_order(table, rows)
    result = await session.execute(_insert_new_statement(table, names), arrays(ordered, names))
    single = len(table.primary_key.columns) == 1
    return {row[0] if single else tuple(row) for row in result}


@functools.cache
def _update_statement(table: Table, names: tuple[str, ...], touch: str | None) -> Any:
    keys = _keys(table)
    rows = rows_of(table, names)
    return (
        update(table)
        .where(*(table.c[k] == rows.c[k] for k in keys))
        .values(
            {name: _typed(rows, table.c[name]) for name in names if name not in keys}
            | ({touch: func.now()} if touch else {})
        )
    )


async def update_rows(
    session: AsyncSession,
    table: Table,
    rows: Sequence[dict[str, Any]],
    *,
    touch: str | None = None,
) -> None:
    """Set the named columns of the rows whose primary key each row gives (``touch``: a
    timestamp column also set to now()), with one statement. A key must not repeat (which of
    two rows for one key wins would be undefined); rows go in key order."""
    if not rows:
        return
    names, ordered = _in_key_order(table, rows)
    await session.execute(_update_statement(table, names, touch), arrays(ordered, names))


@functools.cache
def _upsert_newer_statement(table: Table, names: tuple[str, ...], touch: str | None) -> Any:
    keys = _keys(table)
    ins = insert_statement(table, names)
    return ins.on_conflict_do_update(
        index_elements=keys,
        set_={
            **{name: ins.excluded[name] for name in names if name not in keys},
            **({touch: func.now()} if touch else {}),
        },
        where=table.c.version < ins.excluded.version,
    ).returning(*(table.c[k] for k in keys))


async def upsert_newer(
    session: AsyncSession,
    table: Table,
    rows: Sequence[dict[str, Any]],
    *,
    touch: str | None = None,
) -> list[Any]:
    """Insert ``rows``; a row whose primary key is taken replaces the stored one only when its
    ``version`` is newer (``touch``: a timestamp column set to now() when it does). Answers
    the keys written. A key must not repeat (PostgreSQL cannot update one row twice in a
    statement); rows go in key order, so that writers whose rows overlap lock in one order."""
    if not rows:
        return []
    names, ordered = _in_key_order(table, rows)
    stmt = _upsert_newer_statement(table, names, touch)
    return list((await session.execute(stmt, arrays(ordered, names))).all())


def _typed(rows: TableValuedAlias, column: Column[Any]) -> Any:
    return cast(rows.c[column.name], column.type) if _is_json(column) else rows.c[column.name]


def _is_json(column: Column[Any]) -> bool:
    return isinstance(column.type, JSONB)


def _wire_type(column: Column[Any]) -> Any:
    return Text() if _is_json(column) else column.type
