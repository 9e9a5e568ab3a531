"""Per-key rate limits: token buckets, and 429 with Retry-After from every service's API."""

from __future__ import annotations

import pytest
from sqlalchemy.ext.asyncio import create_async_engine

from orderflow_testkit.harness import running_service
from shared.ratelimit import KeyedBuckets, TokenBucket
from shared.settings import ServiceSettings

from .conftest import PROBE, metadata


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.mark.unit
def test_bucket_allows_the_burst_then_the_rate() -> None:
    clock = Clock()
    bucket = TokenBucket(rate=2.0, burst=3.0, clock=clock)
    assert [bucket.try_take() for _ in range(3)] == [0.0, 0.0, 0.0]
    assert bucket.try_take() == pytest.approx(0.5)
    clock.now += 0.5
    assert bucket.try_take() == 0.0
    clock.now += 100
    assert [bucket.try_take() for _ in range(4)][-1] == pytest.approx(0.5)  # capped at burst


@pytest.mark.unit
def test_keys_have_their_own_buckets() -> None:
    buckets = KeyedBuckets(rate=1.0, burst=1.0, clock=Clock())
    assert buckets.try_take("a") == 0.0
    assert buckets.try_take("a") > 0
    assert buckets.try_take("b") == 0.0


@pytest.mark.integration
async def test_api_answers_429_with_retry_after_past_the_budget(
    probe_settings: ServiceSettings,
) -> None:
    engine = create_async_engine(probe_settings.database_url)
    async with engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
    await engine.dispose()
    settings = probe_settings.model_copy(
        update={"rate_limit_per_second": 0.5, "rate_limit_burst": 3}
    )
    async with running_service(PROBE, settings, roles=(), migrate=False) as svc:
        ops = {"Authorization": "Bearer ops-key"}
        codes = [
            (await svc.client.get("/v1/dead-letters", headers=ops)).status_code for _ in range(4)
        ]
        assert codes == [200, 200, 200, 429]
        limited = await svc.client.get("/v1/dead-letters", headers=ops)
        assert limited.headers["retry-after"] == "2"
        assert limited.json()["status"] == 429
        other = {"Authorization": "Bearer sys-key"}
        assert (await svc.client.get("/v1/dead-letters", headers=other)).status_code == 403
        assert (await svc.client.get("/healthz")).status_code == 200
