"""The bare pipeline the platform is measured against, on the test suite's Kafka and PostgreSQL."""

from __future__ import annotations

import secrets

import asyncpg
import pytest

from bench.cluster import Infra
from bench.limits import STORES, pipeline_limit

pytestmark = pytest.mark.integration


async def test_the_bare_pipeline_takes_every_order_into_every_store(
    test_infra: Infra,
) -> None:
    tag = f"pipe{secrets.token_hex(3)}"
    result = await pipeline_limit(test_infra, tag, 1200, 500)

    conn = await asyncpg.connect(test_infra.dsn(f"{tag}_pipe"))
    try:
        for table in ("intake", *STORES):
            count = await conn.fetchval(f"SELECT count(DISTINCT amazon_order_id) FROM {table}")
            assert count == 1200, table
    finally:
        await conn.close()
    assert result.orders == 1200
    assert result.per_s > 0
    assert result.intake_per_s >= result.per_s  # the stores finish after the intake
    seconds = result.cpu.seconds
    assert set(seconds) >= {"kafka", "postgres", "pipe-intake", *(f"pipe-{s}" for s in STORES)}
    assert seconds["postgres"] > 0 and seconds["pipe-intake"] > 0
    assert result.cpu.ms_per_order > 0
