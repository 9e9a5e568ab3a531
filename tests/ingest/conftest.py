"""Ingest running in-process against the session's real PostgreSQL and Kafka."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from ingest.bootstrap import SPEC
from ingest.settings import IngestSettings
from orderflow_testkit.harness import RunningService, running_service

# tests/spapi_standin (the SP-API stand-in) is imported by the test_spapi_* modules.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from spapi_standin import StandIn, running_standin

SELLING_PARTNER = "A2SELLER1EXAMPLE"  # the Amazon seller id of the connected seller

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


REFUSED_BY_POSTGRES = "REFUSED-BY-POSTGRES"


async def make_postgres_refuse(ingest: RunningService) -> None:
    """From now on PostgreSQL refuses an order whose SellerOrderId is ``REFUSED_BY_POSTGRES``
    (a CHECK constraint): an order the input policy accepts and the database does not, as a
    way to test what ingest does then (the policy leaves no such order of its own)."""
    async with ingest.resources.engine.begin() as conn:
        await conn.execute(
            text(
                "ALTER TABLE orders ADD CONSTRAINT refused_by_postgres CHECK "
                f"(snapshot->>'seller_order_id' IS DISTINCT FROM '{REFUSED_BY_POSTGRES}')"
            )
        )


# -- SP-API: the stand-in, and ingest configured for fast, throttled syncs ------------


@pytest.fixture
def make_standin() -> Iterator[Callable[..., StandIn]]:
    """Start SP-API stand-ins (``StandIn`` keyword arguments); all stop after the test."""
    with contextlib.ExitStack() as stack:

        def make(**kwargs: Any) -> StandIn:
            kwargs.setdefault("seller_id", SELLING_PARTNER)
            return stack.enter_context(running_standin(StandIn(**kwargs)))

        yield make


@pytest.fixture
def spapi_settings(ingest_settings: IngestSettings) -> IngestSettings:
    return ingest_settings.model_copy(
        update={
            "spapi_poller_enabled": True,
            "spapi_rate_scale": 1000.0,
            "spapi_idle_seconds": 0.1,
            "spapi_poll_seconds": 0.2,
            "spapi_max_attempts": 3,
            "spapi_backoff_seconds": 0.05,
            "spapi_backoff_cap_seconds": 2.0,
            "spapi_page_size": 3,
            "spapi_lease_seconds": 30.0,
        }
    )


@pytest.fixture
async def spapi_ingest(spapi_settings: IngestSettings) -> AsyncIterator[RunningService]:
    """Ingest with its relay only: tests drive the poller themselves."""
    async with running_service(SPEC, spapi_settings, roles=("relay",)) as svc:
        yield svc
