"""One database transaction per use case; repositories and the outbox share it.

``UnitOfWork(sessions=...)`` opens, commits or rolls back its own transaction (the API);
``UnitOfWork(session=...)`` joins a transaction someone else owns (the consumer runner,
which commits it together with the inbox row).
"""

from __future__ import annotations

from types import TracebackType

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from fulfillment.adapters import orm
from fulfillment.adapters.outbox import cloud_events
from fulfillment.adapters.repository import OrderRepository, UploadRepository
from fulfillment.domain.model import Order
from shared import outbox
from shared.logs import correlation_id


class ConcurrentInsert(RuntimeError):
    """Another transaction inserted the same order first; the caller retries and merges."""


class UnitOfWork:
    def __init__(
        self,
        *,
        topic: str,
        sessions: async_sessionmaker[AsyncSession] | None = None,
        session: AsyncSession | None = None,
    ) -> None:
        self.topic = topic
        self._sessions = sessions
        self._owns = session is None
        if session is not None:
            self._bind(session)

    def _bind(self, session: AsyncSession) -> None:
        self.session = session
        self.orders = OrderRepository(session)
        self.uploads = UploadRepository(session)

    async def __aenter__(self) -> UnitOfWork:
        if self._owns:
            assert self._sessions is not None
            self._bind(self._sessions())
            await self.session.begin()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if not self._owns:
            return
        try:
            if exc_type is None:
                await self.session.commit()
            else:
                await self.session.rollback()
        finally:
            await self.session.close()

    async def save(self, order: Order, *, new: bool = False) -> None:
        """Store the order and queue its recorded events in the same transaction."""
        if new:
            if not await self.orders.add(order):
                raise ConcurrentInsert(order.amazon_order_id)
        else:
            await self.orders.save(order)
        for event in cloud_events(order, correlation_id.get()):
            await outbox.add_event(self.session, orm.plumbing.outbox, topic=self.topic, event=event)
        order.events.clear()
