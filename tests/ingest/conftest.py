"""Ingest running in-process against the session's real PostgreSQL and Kafka."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import pytest

from ingest.bootstrap import SPEC
from ingest.settings import IngestSettings
from shared.testing import RunningService, running_service

PII_KEY = "n_BqP4SNyVeTHYn4Gjx04lJgXmwo1DbEEpWiUaOM2Qs="
SELLER = "A2SELLER1EXAMPLE"
OTHER_SELLER = "A3SELLER2EXAMPLE"
KEYS = f"sys-key=system,ops-key=ops,seller-key=seller:{SELLER},other-key=seller:{OTHER_SELLER}"


@pytest.fixture
def ingest_settings(
    make_database: Callable[[str], str], kafka_bootstrap: str, topic_prefix: str
) -> IngestSettings:
    return IngestSettings(
        DATABASE_URL=make_database("ingest"),
        KAFKA_BOOTSTRAP_SERVERS=kafka_bootstrap,
        KAFKA_TOPIC_PREFIX=topic_prefix,
        ORDERFLOW_API_KEYS=KEYS,
        ORDERFLOW_PII_KEY=PII_KEY,
        MAX_BODY_BYTES=2_000_000,
    )


@pytest.fixture
async def ingest(ingest_settings: IngestSettings) -> AsyncIterator[RunningService]:
    async with running_service(SPEC, ingest_settings, roles=("relay", "background")) as svc:
        yield svc
