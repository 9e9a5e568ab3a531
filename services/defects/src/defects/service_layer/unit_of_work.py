"""One database transaction per use case; repositories and the outbox share it.

``UnitOfWork(sessions, topic=...)`` owns its transaction (API requests, background jobs);
``UnitOfWork.joining(session, topic=...)`` works inside the consumer runner's transaction,
which commits it together with the inbox row.
"""

from __future__ import annotations

from types import TracebackType

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from defects.adapters import orm
from defects.adapters.repository import ClaimRepository, FeedbackRepository, OrderRepository
from shared.messaging.envelope import CloudEvent
from shared.messaging.outbox import add_event


class UnitOfWork:
    def __init__(self, sessions: async_sessionmaker[AsyncSession] | None, *, topic: str) -> None:
        self._sessions = sessions
        self.topic = topic

    @classmethod
    def joining(cls, session: AsyncSession, *, topic: str) -> UnitOfWork:
        uow = cls(None, topic=topic)
        uow._bind(session)
        return uow

    def _bind(self, session: AsyncSession) -> None:
        self.session = session
        self.orders = OrderRepository(session)
        self.claims = ClaimRepository(session)
        self.feedback = FeedbackRepository(session)

    async def __aenter__(self) -> UnitOfWork:
        assert self._sessions is not None, "a joining unit of work has no transaction of its own"
        session = self._sessions()
        await session.begin()
        self._bind(session)
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

    async def publish(self, event: CloudEvent) -> None:
        await add_event(self.session, orm.plumbing.outbox, topic=self.topic, event=event)
