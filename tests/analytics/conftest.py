"""Analytics running in-process against the session's real PostgreSQL and Kafka.

Events of the other services are published by the tests themselves (``Publisher``), built from
the contracts in ``shared.events``: fulfillment and defects need not run.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer
from pydantic import BaseModel
from sqlalchemy import func, select

from analytics.adapters import orm
from analytics.bootstrap import SPEC
from analytics.settings import AnalyticsSettings
from ingest.bootstrap import SPEC as INGEST_SPEC
from ingest.settings import IngestSettings
from orderflow_testkit.harness import RunningService, eventually, running_service
from shared.events.registry import build_event
from shared.kafka.client import ensure_topics
from shared.topics import dead_letter_topic

SELLER = "A2SELLER1EXAMPLE"
OTHER_SELLER = "A3SELLER2EXAMPLE"
KEYS = f"sys-key=system,ops-key=ops,seller-key=seller:{SELLER},other-key=seller:{OTHER_SELLER}"
OPS = {"Authorization": "Bearer ops-key", "X-Seller-Id": SELLER}
SELLER_KEY = {"Authorization": "Bearer seller-key"}
PII_KEY = "n_BqP4SNyVeTHYn4Gjx04lJgXmwo1DbEEpWiUaOM2Qs="


class Publisher:
    """Publishes contract events to the run's topics, as the other services would."""

    def __init__(self, producer: AIOKafkaProducer, settings: AnalyticsSettings) -> None:
        self._producer = producer
        self._settings = settings
        self.sent = 0

    async def publish(
        self,
        topic: str,
        event_type: str,
        payload: BaseModel,
        *,
        version: int,
        subject: str | None = None,
        seller_id: str = SELLER,
        source: str | None = None,
    ) -> Any:
        subject = subject or str(getattr(payload, "amazon_order_id", ""))
        event = build_event(
            topic=topic,
            event_type=event_type,
            payload=payload,
            source=source or topic.split(".")[0],
            subject=subject,
            seller_id=seller_id,
            version=version,
        )
        await self._producer.send_and_wait(
            self._settings.topic(topic), event.to_bytes(), key=subject.encode()
        )
        self.sent += 1
        SENT_IDS.append(event.id)
        return event


def analytics_settings_for(
    make_database: Callable[[str], str], kafka_bootstrap: str, topic_prefix: str, **extra: Any
) -> AnalyticsSettings:
    return AnalyticsSettings(
        DATABASE_URL=make_database("analytics"),
        KAFKA_BOOTSTRAP_SERVERS=kafka_bootstrap,
        KAFKA_TOPIC_PREFIX=topic_prefix,
        ORDERFLOW_API_KEYS=KEYS,
        ANALYTICS_SERVICE_API_KEY="ops-key",
        **extra,
    )


@pytest.fixture
def analytics_settings(
    make_database: Callable[[str], str], kafka_bootstrap: str, topic_prefix: str
) -> AnalyticsSettings:
    return analytics_settings_for(make_database, kafka_bootstrap, topic_prefix)


@pytest.fixture
async def analytics(analytics_settings: AnalyticsSettings) -> AsyncIterator[RunningService]:
    async with running_service(SPEC, analytics_settings, roles=("worker", "relay")) as svc:
        yield svc


@pytest.fixture
async def live(analytics_settings: AnalyticsSettings) -> AsyncIterator[RunningService]:
    """Analytics with its background jobs (the alert job, the event log's retention) too."""
    roles = ("worker", "relay", "background")
    async with running_service(SPEC, analytics_settings, roles=roles) as svc:
        yield svc


@pytest.fixture
async def publisher(analytics_settings: AnalyticsSettings) -> AsyncIterator[Publisher]:
    settings = analytics_settings
    names = [settings.topic(t) for t in (*SPEC.subscribes, *SPEC.publishes)]
    await ensure_topics(
        settings.kafka_bootstrap_servers,
        [*names, *(dead_letter_topic(n) for n in names)],
        partitions=settings.kafka_partitions,
    )
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap_servers)
    await producer.start()
    try:
        yield Publisher(producer, analytics_settings)
    finally:
        await producer.stop()


# The ids this test's publishers sent. The session's tests share their topics (and analytics'
# consumer group), so the event log may also hold other tests' events: when the test published
# through a Publisher, only its own events are counted.
SENT_IDS: list[uuid.UUID] = []


@pytest.fixture(autouse=True)
def _forget_sent_ids() -> None:
    SENT_IDS.clear()


async def applied_count(svc: RunningService) -> int:
    # Every event analytics applies is in its event log once (order snapshots have no inbox row).
    log = orm.order_events
    applied = select(func.count()).select_from(log)
    if SENT_IDS:
        applied = applied.where(log.c.event_id.in_(SENT_IDS))
    async with svc.resources.sessions() as session:
        return int((await session.execute(applied)).scalar_one())


async def wait_applied(svc: RunningService, count: int, timeout: float = 30.0) -> None:
    """Wait until analytics has applied ``count`` events (its event log holds them)."""

    async def done() -> bool:
        return await applied_count(svc) >= count

    await eventually(done, timeout=timeout)


@pytest.fixture
async def ingest(
    make_database: Callable[[str], str], kafka_bootstrap: str, topic_prefix: str
) -> AsyncIterator[RunningService]:
    """Ingest in-process (API and relay), on the same Kafka and topic prefix as analytics."""
    settings = IngestSettings(
        DATABASE_URL=make_database("ingest"),
        KAFKA_BOOTSTRAP_SERVERS=kafka_bootstrap,
        KAFKA_TOPIC_PREFIX=topic_prefix,
        ORDERFLOW_API_KEYS=KEYS,
        ORDERFLOW_PII_KEY=PII_KEY,
    )
    async with running_service(INGEST_SPEC, settings, roles=("relay",)) as svc:
        yield svc
