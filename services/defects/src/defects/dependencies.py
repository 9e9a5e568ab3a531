"""What defects' API, consumers and background jobs are given: built once per process by
``bootstrap``, typed, read as ``resources.deps``."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from defects.adapters.unit_of_work import SqlUnitOfWork
from defects.settings import DefectsSettings
from shared.topics import DEFECTS

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class Dependencies:
    settings: DefectsSettings
    sessions: async_sessionmaker[AsyncSession]
    clock: Clock = field(default=utc_now)

    @property
    def topic(self) -> str:
        return self.settings.topic(DEFECTS)

    def uow(self) -> SqlUnitOfWork:
        return SqlUnitOfWork(self.sessions, topic=self.topic)

    def now(self) -> datetime:
        """The clock's time (read at each call: tests replace ``clock``)."""
        return self.clock()

    @classmethod
    def build(
        cls, settings: DefectsSettings, sessions: async_sessionmaker[AsyncSession]
    ) -> Dependencies:
        return cls(settings=settings, sessions=sessions)
