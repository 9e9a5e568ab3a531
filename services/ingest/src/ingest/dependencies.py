"""What ingest's API, consumers and background jobs are given: built once per process by
``bootstrap``, typed, read as ``resources.deps``. Both contexts read it through their own
protocol (``IntakeDependencies``, ``GatewayDependencies``), so neither imports this module."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ingest.amazon.adapters.spapi.http import Buckets
from ingest.amazon.service_layer.connections import Vault
from ingest.amazon.service_layer.sync import SpApi
from ingest.amazon.service_layer.unit_of_work import SqlGatewayUnitOfWork
from ingest.intake.service_layer.unit_of_work import SqlIntakeUnitOfWork
from ingest.settings import IngestSettings
from shared import topics
from shared.pii import PIICipher

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class Dependencies:
    settings: IngestSettings
    sessions: async_sessionmaker[AsyncSession]
    pii: PIICipher
    spapi: SpApi
    vault: Vault
    clock: Clock = field(default=utc_now)

    def intake_uow(self) -> SqlIntakeUnitOfWork:
        return SqlIntakeUnitOfWork(self.sessions, topic=self.settings.topic(topics.ORDERS))

    def gateway_uow(self) -> SqlGatewayUnitOfWork:
        return SqlGatewayUnitOfWork(self.sessions, topic=self.settings.topic(topics.ORDERS))

    @classmethod
    def build(
        cls, settings: IngestSettings, sessions: async_sessionmaker[AsyncSession]
    ) -> Dependencies:
        return cls(
            settings=settings,
            sessions=sessions,
            pii=PIICipher(settings.pii_key),
            spapi=SpApi(settings, Buckets(scale=settings.spapi_rate_scale)),
            vault=Vault(PIICipher(settings.spapi_credentials_key or settings.pii_key)),
        )
