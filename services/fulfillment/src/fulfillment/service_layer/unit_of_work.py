"""One database transaction per use case; repositories and the outbox share it.

``UnitOfWork(sessions=...)`` opens, commits or rolls back its own transaction (the API);
``UnitOfWork(session=...)`` joins a transaction someone else owns (the consumer runner,
which commits it together with the inbox row).
"""

from __future__ import annotations

from collections.abc import Sequence
from types import TracebackType

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from fulfillment.adapters import orm
from fulfillment.adapters.outbox import cloud_events
from fulfillment.adapters.repository import OrderRepository, UploadRepository
from fulfillment.domain.model import Order
from shared.logs import correlation_id
from shared.messaging import outbox
from shared.messaging.envelope import CloudEvent


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

    async def save(self, order: Order) -> None:
        """Store the order and queue its recorded events in the same transaction."""
        events = self.announce(order, correlation_id.get())
        await self.save_all(new=[], changed=[order], events=events)

    def announce(self, order: Order, correlation: str | None) -> list[CloudEvent]:
        """The order's recorded events as fulfillment.v1 messages (taken off the order)."""
        events = cloud_events(order, correlation)
        order.events.clear()
        return events

    async def save_all(
        self, *, new: Sequence[Order], changed: Sequence[Order], events: Sequence[CloudEvent]
    ) -> None:
        """Insert ``new`` orders, store ``changed`` ones (each once) and queue ``events``,
        with one statement each. Raises ``ConcurrentInsert`` when a new order exists already."""
        added = await self.orders.add_many(new)
        missing = sorted({order.amazon_order_id for order in new} - added)
        if missing:
            raise ConcurrentInsert(missing[0])
        await self.orders.save_many(changed)
        await outbox.add_events(self.session, orm.plumbing.outbox, topic=self.topic, events=events)
