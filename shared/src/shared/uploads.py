"""Flat-file uploads as jobs: registered at once, processed in chunks with visible progress.

A service keeps its uploads in a table with at least ``id``, ``seller_id``, ``filename``,
``sha256``, ``content``, ``status`` (``queued``, ``processing``, ``done``), ``created_at``,
``finished_at`` and ``rows_total``, unique on (``seller_id``, ``sha256``); ``UploadStore``
reads and writes it. A service configures a ``Job`` with its own parts: how the stored file
becomes a list of items (orders, packages), how many of them an upload row says are done, and
what applying a chunk of them does (its handlers) and writes to the row (its counters).

- ``register``: the same file uploaded twice by the same seller (same SHA-256) is the same
  job, never run twice.
- ``process``: each chunk is one transaction that also advances the upload's counters, so
  progress is exact and a crash resumes at the first unfinished chunk.
- ``resume_unfinished``: at start, every upload a stopped process left unfinished.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

from sqlalchemy import Row, Table, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from shared import flatfile
from shared.clock import Clock

log = logging.getLogger(__name__)

Item = TypeVar("Item")


class Uploads(Protocol):
    """What a job reads and writes of a service's uploads (rows with attribute access:
    ``row.status``, ``row.content``, ...); ``UploadStore`` is the SQL one."""

    async def add(self, **values: Any) -> bool: ...

    async def find_same(self, seller_id: str, sha256: str) -> Any | None: ...

    async def get(
        self, upload_id: uuid.UUID, *, seller_id: str | None, lock: bool = False
    ) -> Any | None: ...

    async def unfinished(self) -> list[uuid.UUID]: ...

    async def progress(self, upload_id: uuid.UUID, **values: Any) -> None: ...


class UploadStore:
    """The uploads table of one service."""

    def __init__(self, session: AsyncSession, table: Table) -> None:
        self.session = session
        self.table = table

    async def add(self, **values: Any) -> bool:
        stmt = (
            insert(self.table)
            .values(**values)
            .on_conflict_do_nothing(index_elements=["seller_id", "sha256"])
            .returning(self.table.c.id)
        )
        return (await self.session.execute(stmt)).first() is not None

    async def find_same(self, seller_id: str, sha256: str) -> Row[Any] | None:
        u = self.table.c
        stmt = select(self.table).where(u.seller_id == seller_id, u.sha256 == sha256)
        return (await self.session.execute(stmt)).first()

    async def get(
        self, upload_id: uuid.UUID, *, seller_id: str | None, lock: bool = False
    ) -> Row[Any] | None:
        u = self.table.c
        stmt = select(self.table).where(u.id == upload_id)
        if seller_id is not None:
            stmt = stmt.where(u.seller_id == seller_id)
        if lock:
            stmt = stmt.with_for_update(skip_locked=True)
        return (await self.session.execute(stmt)).first()

    async def unfinished(self) -> list[uuid.UUID]:
        u = self.table.c
        stmt = select(u.id).where(u.status.in_(("queued", "processing"))).order_by(u.created_at)
        return list((await self.session.execute(stmt)).scalars())

    async def progress(self, upload_id: uuid.UUID, **values: Any) -> None:
        stmt = update(self.table).where(self.table.c.id == upload_id).values(**values)
        await self.session.execute(stmt)


class UnitOfWork(Protocol):
    """What a job needs of a service's unit of work: its uploads, in one transaction that it
    commits explicitly (``shared.unit_of_work``)."""

    @property
    def uploads(self) -> Uploads: ...

    async def commit(self) -> None: ...


UoW = TypeVar("UoW", bound=UnitOfWork)


async def register(
    store: Uploads,
    *,
    seller_id: str,
    filename: str | None,
    content: bytes,
    stored: bytes | None = None,
    **totals: int,
) -> tuple[Row[Any], bool]:
    """Store the file (``stored``, e.g. sealed, else ``content``) as a queued job with its
    ``totals`` (``rows_total``, ...); returns (upload row, whether it was a duplicate)."""
    digest = flatfile.sha256(content)
    created = await store.add(
        id=uuid.uuid4(),
        seller_id=seller_id,
        filename=filename,
        sha256=digest,
        content=content if stored is None else stored,
        **totals,
    )
    row = await store.find_same(seller_id, digest)
    assert row is not None  # just added, or there before
    return row, not created


@dataclass(frozen=True)
class Job(Generic[UoW, Item]):
    """One service's upload job: ``items(upload)`` parses the stored file; ``done(upload,
    items)`` counts the items already applied; ``apply(uow, upload, chunk, finished)`` applies
    a chunk and answers the upload's new counters (``status`` and ``finished_at`` are set
    here)."""

    name: str
    new_uow: Callable[[], AbstractAsyncContextManager[UoW]]
    items: Callable[[Row[Any]], Sequence[Item]]
    done: Callable[[Row[Any], Sequence[Item]], int]
    apply: Callable[[UoW, Row[Any], Sequence[Item], bool], Awaitable[dict[str, Any]]]
    chunk: int
    clock: Clock


async def process(job: Job[UoW, Item], upload_id: uuid.UUID) -> None:
    items: Sequence[Item] | None = None
    while True:
        async with job.new_uow() as uow:
            upload = await uow.uploads.get(upload_id, seller_id=None, lock=True)
            if upload is None or upload.status == "done":
                return
            if items is None:
                items = job.items(upload)
            done = job.done(upload, items)
            chunk = items[done : done + job.chunk]
            finished = done + len(chunk) >= len(items)
            values = await job.apply(uow, upload, chunk, finished)
            status = {"status": "done", "finished_at": job.clock()} if finished else {}
            await uow.uploads.progress(upload_id, **({"status": "processing"} | values | status))
            await uow.commit()
            if finished:
                log.info("%s processed", job.name, extra={"upload_id": str(upload_id)})
                return


async def resume_unfinished(job: Job[UoW, Item]) -> None:
    async with job.new_uow() as uow:
        pending = await uow.uploads.unfinished()
    for upload_id in pending:
        await process(job, upload_id)
