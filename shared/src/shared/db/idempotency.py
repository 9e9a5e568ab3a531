"""The ``idempotency_keys`` table and the statements that claim, mark, finish and purge keys.

A row is one ``Idempotency-Key`` in one scope (a seller, or a key without a seller). It goes
through three states, each a fact stored in the row:

- claimed: ``owner`` (a fresh token per attempt) holds it until ``locked_until``;
- committed: ``committed_at`` is set inside the transaction that did the request's work, by the
  attempt that still owns the row (``mark_committed``), so the work and the mark commit or roll
  back together;
- completed: ``status``, ``headers`` and ``body`` hold the first response, to answer again.

An attempt whose work never committed is released (the row deleted), so a retry runs afresh;
a claim whose lease ran out before its work committed can be taken over. A row that committed
but holds no response (the process died between the two) is never run again. See
docs/adr/0040-idempotency-keys.md.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import (
    Column,
    DateTime,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    Table,
    Text,
    delete,
    func,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import JSONB, UUID, insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Session


def define_idempotency_keys(metadata: MetaData) -> Table:
    return Table(
        "idempotency_keys",
        metadata,
        Column("scope", Text, primary_key=True),
        Column("key", Text, primary_key=True),
        Column("fingerprint", Text, nullable=False),
        Column("method", Text, nullable=False),
        Column("path", Text, nullable=False),
        Column("owner", UUID(as_uuid=True), nullable=False),
        Column("locked_until", DateTime(timezone=True), nullable=False),
        Column("committed_at", DateTime(timezone=True)),
        Column("status", Integer),
        Column("headers", JSONB),
        Column("body", LargeBinary),
        Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
        # The purge finds keys past retention by age: docs/adr/0014-brin-for-age-based-deletes.md.
        Index("ix_idempotency_keys_created_brin", "created_at", postgresql_using="brin"),
    )


@dataclass(frozen=True)
class Request:
    """What identifies one request under a key: where it is kept and what it must match."""

    scope: str
    key: str
    fingerprint: str
    method: str
    path: str


@dataclass(frozen=True)
class Stored:
    """A key's row as another attempt finds it."""

    fingerprint: str
    method: str
    path: str
    owner: uuid.UUID
    running: bool  # the lease has not run out
    committed: bool
    status: int | None
    headers: dict[str, str] | None
    body: bytes | None


async def claim(
    sessions: async_sessionmaker[AsyncSession],
    table: Table,
    request: Request,
    *,
    lease: timedelta,
) -> tuple[uuid.UUID | None, Stored | None]:
    """Take the key for a new attempt: ``(owner, None)``; or, when another attempt holds it or
    held it, ``(None, what it stored)``. A claim whose lease ran out before its work committed
    is taken over (the old owner's mark then finds nothing and rolls its work back)."""
    owner = uuid.uuid4()
    async with sessions() as session, session.begin():
        for _ in range(2):  # a row released between the insert and the read: insert again
            if await _insert(session, table, request, owner, lease):
                return owner, None
            found = await _read(session, table, request)
            if found is None:
                continue
            if found.fingerprint != request.fingerprint or found.running or found.committed:
                return None, found
            await session.execute(
                update(table)
                .where(table.c.scope == request.scope, table.c.key == request.key)
                .values(owner=owner, locked_until=func.now() + lease)
            )
            return owner, None
    raise RuntimeError("idempotency key claimed and released in a loop")  # pragma: no cover


async def _insert(
    session: AsyncSession, table: Table, request: Request, owner: uuid.UUID, lease: timedelta
) -> bool:
    stmt = (
        insert(table)
        .values(
            scope=request.scope,
            key=request.key,
            fingerprint=request.fingerprint,
            method=request.method,
            path=request.path,
            owner=owner,
            locked_until=func.now() + lease,
        )
        .on_conflict_do_nothing(index_elements=["scope", "key"])
        .returning(table.c.owner)
    )
    return (await session.execute(stmt)).first() is not None


async def _read(session: AsyncSession, table: Table, request: Request) -> Stored | None:
    c = table.c
    stmt = (
        select(
            c.fingerprint,
            c.method,
            c.path,
            c.owner,
            (c.locked_until > func.now()).label("running"),
            c.committed_at.is_not(None).label("committed"),
            c.status,
            c.headers,
            c.body,
        )
        .where(c.scope == request.scope, c.key == request.key)
        .with_for_update()
    )
    row = (await session.execute(stmt)).first()
    return None if row is None else Stored(**row._asdict())


class Superseded(Exception):
    """The attempt's lease ran out and another attempt took the key: its work must not commit."""


def mark_committed(session: Session, table: Table, scope: str, key: str, owner: uuid.UUID) -> None:
    """In the transaction doing the work (a sync session: called from ``before_commit``)."""
    stmt = (
        update(table)
        .where(table.c.scope == scope, table.c.key == key, table.c.owner == owner)
        .values(committed_at=func.coalesce(table.c.committed_at, func.now()))
        .returning(table.c.owner)
    )
    if session.execute(stmt).first() is None:
        raise Superseded(key)


async def finish(
    sessions: async_sessionmaker[AsyncSession],
    table: Table,
    *,
    scope: str,
    key: str,
    owner: uuid.UUID,
    response: tuple[int, dict[str, str], bytes] | None,
) -> bool:
    """Keep the response of an attempt whose work committed (True); release the key of one
    whose work did not (False). Without a response, a committed attempt stays as it is."""
    c = table.c
    mine = (c.scope == scope, c.key == key, c.owner == owner)
    async with sessions() as session, session.begin():
        if response is not None:
            status, headers, body = response
            kept = await session.execute(
                update(table)
                .where(*mine, c.committed_at.is_not(None))
                .values(status=status, headers=headers, body=body)
                .returning(c.owner)
            )
            if kept.first() is not None:
                return True
        await session.execute(delete(table).where(*mine, c.committed_at.is_(None)))
        return False


async def purge(session: AsyncSession, table: Table, *, hours: float) -> None:
    """Delete keys older than ``hours``: a retry after that runs as a new request."""
    await session.execute(
        delete(table).where(table.c.created_at < func.now() - timedelta(hours=hours))
    )
