"""One database transaction per use case; repositories and the outbox share it."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Sequence
from types import TracebackType

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ingest.adapters import orm
from ingest.adapters.repository import OrderRepository, QuarantineRepository, UploadRepository
from shared.messaging import outbox
from shared.messaging.envelope import CloudEvent


class UnitOfWork:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def __aenter__(self) -> UnitOfWork:
        self.session = self._sessions()
        await self.session.begin()
        self.orders = OrderRepository(self.session)
        self.quarantine = QuarantineRepository(self.session)
        self.uploads = UploadRepository(self.session)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            if exc_type is None:
                await self.session.commit()
            else:
                await self.session.rollback()
        finally:
            await self.session.close()

    @contextlib.asynccontextmanager
    async def attempt(self, *, alone: bool = False) -> AsyncIterator[None]:
        """Work that is undone on its own if it raises: in a savepoint, or, when it is all the
        transaction holds (``alone``), by rolling the transaction back and beginning another
        (no SAVEPOINT and RELEASE round trips when it succeeds)."""
        if not alone:
            async with self.session.begin_nested():
                yield
            return
        try:
            yield
        except Exception:  # a cancellation leaves the rollback to __aexit__
            await self.session.rollback()
            await self.session.begin()
            raise

    async def publish(self, topic: str, event: CloudEvent) -> None:
        await self.publish_all(topic, [event])

    async def publish_all(
        self, topic: str, events: Sequence[CloudEvent], payloads: Sequence[bytes] | None = None
    ) -> None:
        await outbox.add_events(
            self.session, orm.plumbing.outbox, topic=topic, events=events, payloads=payloads
        )
