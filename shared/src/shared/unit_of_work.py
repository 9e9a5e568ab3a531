"""The unit of work: one database transaction per use case, and the events it announces.

Every service's ``service_layer/unit_of_work.py`` subclasses ``SqlUnitOfWork`` with its own
repositories; unit tests use an in-memory subclass of ``UnitOfWork`` (``tests/fakes.py``).
One API everywhere:

    async with new_uow() as uow:          # begins a transaction
        order = await uow.orders.get(...)
        order.ship(...)
        await uow.orders.save(order)
        uow.publish(events)               # queued, written to the outbox on commit
        await uow.commit()                # explicit; leaving without it rolls back

A Kafka handler gets a unit of work that joins the consumer runner's transaction
(``SqlUnitOfWork.joining``): its ``commit`` writes the queued events to the outbox and leaves
the transaction to the runner, which commits it with the inbox row (``shared.messaging.inbox``).
The outbox row is always written in the transaction of the change it announces.
"""

from __future__ import annotations

import abc
import contextlib
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import ClassVar, Self

from sqlalchemy import Table
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from shared.messaging import outbox
from shared.messaging.envelope import CloudEvent


@dataclass(frozen=True)
class Queued:
    """Events queued for one topic, with their bytes when the caller has them already."""

    topic: str
    events: Sequence[CloudEvent]
    payloads: Sequence[bytes] | None = None


class UnitOfWork(abc.ABC):
    """Begin on enter, ``commit`` explicitly, roll back whatever was not committed on exit."""

    def __init__(self, *, topic: str | None = None) -> None:
        self.topic = topic
        self.queued: list[Queued] = []

    async def __aenter__(self) -> Self:
        await self._begin()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            await self.rollback()
        finally:
            await self._close()

    def publish(
        self,
        events: Sequence[CloudEvent],
        *,
        topic: str | None = None,
        payloads: Sequence[bytes] | None = None,
    ) -> None:
        """Queue ``events`` (in this order) for ``topic`` (default: the service's own)."""
        target = topic or self.topic
        if target is None:
            raise ValueError("no topic: this unit of work has no default topic")
        if events:
            self.queued.append(Queued(target, list(events), payloads))

    async def commit(self) -> None:
        """Write the queued events to the outbox and commit, in one transaction."""
        queued, self.queued = self.queued, []
        await self._write(queued)
        await self._commit()

    async def rollback(self) -> None:
        self.queued = []
        await self._rollback()

    @contextlib.asynccontextmanager
    async def attempt(self, *, alone: bool = False) -> AsyncIterator[None]:
        """Work that is undone on its own if it raises, with the events it queued; the rest of
        the unit of work goes on. ``alone``: the work is all the transaction holds."""
        mark = len(self.queued)
        try:
            async with self._undoable(alone=alone):
                yield
        except Exception:
            del self.queued[mark:]
            raise

    @abc.abstractmethod
    async def _begin(self) -> None: ...

    @abc.abstractmethod
    async def _write(self, queued: Sequence[Queued]) -> None: ...

    @abc.abstractmethod
    async def _commit(self) -> None: ...

    @abc.abstractmethod
    async def _rollback(self) -> None: ...

    async def _close(self) -> None:
        return None

    @abc.abstractmethod
    def _undoable(self, *, alone: bool) -> contextlib.AbstractAsyncContextManager[None]: ...


class SqlUnitOfWork(UnitOfWork):
    """A unit of work on one SQLAlchemy session; subclasses bind their repositories in
    ``_bind`` and name their outbox table."""

    outbox_table: ClassVar[Table]

    def __init__(
        self, sessions: async_sessionmaker[AsyncSession] | None, *, topic: str | None = None
    ) -> None:
        super().__init__(topic=topic)
        self._sessions = sessions
        self._owns = True

    @classmethod
    def joining(cls, session: AsyncSession, *, topic: str | None = None) -> Self:
        """A unit of work inside a transaction someone else commits (the consumer runner)."""
        uow = cls(None, topic=topic)
        uow._owns = False
        uow._use(session)
        return uow

    def _use(self, session: AsyncSession) -> None:
        self.session = session
        self._bind(session)

    @abc.abstractmethod
    def _bind(self, session: AsyncSession) -> None:
        """Create the repositories on ``session``."""

    async def _begin(self) -> None:
        if not self._owns:
            return
        if self._sessions is None:
            raise RuntimeError("a unit of work without a sessionmaker cannot begin")
        self._use(self._sessions())
        await self.session.begin()

    async def _write(self, queued: Sequence[Queued]) -> None:
        for q in queued:
            await outbox.add_events(
                self.session, self.outbox_table, topic=q.topic, events=q.events, payloads=q.payloads
            )

    async def _commit(self) -> None:
        if self._owns:
            await self.session.commit()

    async def _rollback(self) -> None:
        if self._owns:
            await self.session.rollback()

    async def _close(self) -> None:
        if self._owns:
            await self.session.close()

    @contextlib.asynccontextmanager
    async def _undoable(self, *, alone: bool) -> AsyncIterator[None]:
        """In a savepoint; or, when the work is all the transaction holds and this unit of work
        owns it, by rolling the transaction back and beginning another (no SAVEPOINT and RELEASE
        round trips when it succeeds)."""
        if not (alone and self._owns):
            async with self.session.begin_nested():
                yield
            return
        try:
            yield
        except Exception:  # a cancellation leaves the rollback to __aexit__
            await self.session.rollback()
            await self.session.begin()
            raise
