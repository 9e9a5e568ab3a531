"""Background jobs (``shared.runtime.supervise``): a job that fails is started again, counted
in ``orderflow_background_job_restarts_total``; a job that returns is done: a job
that dies on an exception escaping its loop must not stay dead for the process's life."""

from __future__ import annotations

import asyncio
from typing import Any, cast

import pytest
from prometheus_client import REGISTRY

import shared.runtime
from shared.runtime import Resources, supervise

pytestmark = pytest.mark.unit


def _restarts(job: str) -> float:
    labels = {"service": "jobs-test", "job": job}
    return REGISTRY.get_sample_value("orderflow_background_job_restarts_total", labels) or 0.0


async def test_a_failing_job_is_started_again_and_a_finished_one_is_not(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(shared.runtime, "JOB_RESTART_SECONDS", (0.01, 0.02))
    resources = cast(Resources, object())
    runs: list[str] = []
    running = asyncio.Event()

    async def alerts(_: Any) -> None:
        runs.append("alerts")
        if len(runs) <= 2:
            raise RuntimeError("set-up failed (a bug, a database that is not there yet)")
        running.set()
        await asyncio.Event().wait()  # the job's own loop, until cancelled

    before = _restarts("alerts")
    task = asyncio.ensure_future(supervise(alerts, resources, service="jobs-test"))
    await asyncio.wait_for(running.wait(), 5)
    assert runs == ["alerts"] * 3
    assert _restarts("alerts") - before == 2
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task

    async def resume_uploads(_: Any) -> None:
        runs.append("once")

    await asyncio.wait_for(supervise(resume_uploads, resources, service="jobs-test"), 5)
    assert runs.count("once") == 1 and _restarts("resume_uploads") == 0
