"""What fulfillment's API, consumers and background jobs are given: built once per process by
``bootstrap``, typed, read as ``resources.deps``."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from fulfillment.adapters.pii import BuyerPII
from fulfillment.service_layer.unit_of_work import SqlUnitOfWork, UnitOfWork
from fulfillment.settings import FulfillmentSettings
from shared import topics

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class Dependencies:
    settings: FulfillmentSettings
    sessions: async_sessionmaker[AsyncSession]
    pii: BuyerPII
    clock: Clock = field(default=utc_now)

    @property
    def topic(self) -> str:
        return self.settings.topic(topics.FULFILLMENT)

    def uow(self) -> UnitOfWork:
        return SqlUnitOfWork(self.sessions, topic=self.topic)

    def now(self) -> datetime:
        """The clock's time (read at each call: tests replace ``clock``)."""
        return self.clock()

    @classmethod
    def build(
        cls, settings: FulfillmentSettings, sessions: async_sessionmaker[AsyncSession]
    ) -> Dependencies:
        return cls(settings=settings, sessions=sessions, pii=BuyerPII(settings.pii_key))
