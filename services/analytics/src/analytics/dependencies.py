"""What analytics' API, consumers and background jobs are given: built once per process by
``bootstrap``, typed, read as ``resources.deps``.

The ports to the world outside the database (ingest, Kafka's consumer lag, the other services)
are built here; the HTTP client of ingest is closed by ``aclose`` when the API shuts down.
Tests replace a port by assigning it (``svc.resources.deps.ingest = FakeIngest()``).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from analytics.adapters.ingest_client import IngestClient, NoIngest
from analytics.adapters.kafka_lag import KafkaLag
from analytics.adapters.peers import Peers, own_progress
from analytics.service_layer.ports import IngestPort, LagPort, PeersPort, ProgressPort
from analytics.service_layer.trace import TracePorts
from analytics.service_layer.unit_of_work import SqlUnitOfWork, UnitOfWork
from analytics.settings import AnalyticsSettings
from shared import topics
from shared.runtime import group_id

Clock = Callable[[], datetime]
SERVICE = "analytics"


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class Dependencies:
    settings: AnalyticsSettings
    sessions: async_sessionmaker[AsyncSession]
    ingest: IngestPort
    lag: LagPort
    peers: PeersPort
    progress: ProgressPort
    clock: Clock = field(default=utc_now)
    http: httpx.AsyncClient | None = None  # ingest's client, when ingest is configured

    @property
    def topic(self) -> str:
        return self.settings.topic(topics.ANALYTICS)

    def uow(self) -> UnitOfWork:
        return SqlUnitOfWork(self.sessions, topic=self.topic)

    def now(self) -> datetime:
        """The clock's time (read at each call: tests replace ``clock``)."""
        return self.clock()

    def group(self, service: str = SERVICE) -> str:
        """The consumer group of ``service``."""
        return group_id(service, self.settings)

    def trace_ports(self) -> TracePorts:
        settings = self.settings
        return TracePorts(
            ingest=self.ingest,
            lag=self.lag,
            group=self.group(settings.service_name),
            orders_topic=settings.topic(topics.ORDERS),
            lag_threshold=settings.consumer_lag_threshold,
            peers=self.peers,
        )

    async def aclose(self) -> None:
        if self.http is not None:
            await self.http.aclose()

    @classmethod
    def build(
        cls, settings: AnalyticsSettings, sessions: async_sessionmaker[AsyncSession]
    ) -> Dependencies:
        http = _ingest_http(settings)
        ingest: IngestPort = NoIngest()
        if http is not None:
            ingest = IngestClient(http, api_key=settings.peer_api_key())
        others = {k: v for k, v in settings.urls_of_services().items() if k != SERVICE}
        return cls(
            settings=settings,
            sessions=sessions,
            ingest=ingest,
            lag=KafkaLag(settings.kafka_bootstrap_servers),
            peers=Peers(
                others, api_key=settings.peer_api_key(), timeout=settings.peer_timeout_seconds
            ),
            progress=functools.partial(own_progress, SERVICE),
            http=http,
        )


def _ingest_http(settings: AnalyticsSettings) -> httpx.AsyncClient | None:
    url = settings.urls_of_services().get("ingest")
    if not url:
        return None
    return httpx.AsyncClient(base_url=url, timeout=settings.peer_timeout_seconds)
