"""The bench harness is a package at the repository's root, not an installed one."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

ROOT = str(Path(__file__).resolve().parents[2])
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from bench import activity_results as background  # noqa: E402 (importable once ROOT is on the path)
from bench.cluster import Infra  # noqa: E402
from bench.common import Percentiles  # noqa: E402
from bench.runs import (  # noqa: E402
    FULL_SPEED,
    CpuUsed,
    EndToEndRun,
    Hops,
    Latency,
    MachineProbe,
    Throughput,
    Visibility,
)
from bench.timeline import Report, Stretch  # noqa: E402
from devstack import config  # noqa: E402


@pytest.fixture
def test_infra(kafka_bootstrap: str, postgres_server: str) -> Infra:
    """The servers this test run started, as a bench ``Infra`` (the bench reads their CPU from
    ``/proc``, so external servers named by the environment will not do)."""
    if "KAFKA_BOOTSTRAP_SERVERS" in os.environ or "POSTGRES_URL" in os.environ:
        pytest.skip("needs the servers this test run started (it reads their CPU)")
    return Infra(
        "test",
        config.TEST_KAFKA_PORT,
        config.TEST_KAFKA_CONTROLLER_PORT,
        config.TEST_POSTGRES_PORT,
        postgres_dir="pg",
    )


@pytest.fixture
def end_to_end_run() -> Callable[..., EndToEndRun]:
    """A ``Bench.end_to_end`` report with the figures the bench's own logic reads; the rest
    empty."""

    def make(
        *,
        rate: float | str = FULL_SPEED,
        batch: int = 500,
        p99: float | None = None,
        p50: float | None = None,
        accepted_per_s: float = 3000.0,
        applied_per_s: float | None = 2050.0,
        cpu: float | None = 1.5,
        probe: float = 10.0,
        while_loading: dict[str, float] | None = None,
    ) -> EndToEndRun:
        none = Percentiles()
        during = Stretch(0.0, 1.0, 0.0, while_loading, {}) if while_loading is not None else None
        return EndToEndRun(
            orders=1000,
            target_rate=rate,
            batch_size=batch,
            throughput=Throughput(1000, accepted_per_s, applied_per_s, 1.0, {}, {}, none),
            latency=Latency(
                visible_in_fulfillment=Visibility(
                    sampled=250, percentiles=Percentiles(p50_ms=p50, p99_ms=p99)
                ),
                visible_from_ingest_received_at=none,
                fulfillment_created_at=none,
                hops=Hops(none, none, none),
            ),
            cpu=CpuUsed({}, 1.0, cpu, "", 0.0, MachineProbe(probe, 0.0)),
            background=quiet_background(),
            timeline=Report(2.0, 0, during, [], []),
        )

    return make


def quiet_background(**overrides: Any) -> background.Report:
    """A run's background in which little happened: one timed checkpoint, 1.2 GB of WAL,
    a few autovacuums; ``overrides`` replace whole sections."""
    sections: dict[str, Any] = {
        "seconds": 60.0,
        "checkpoints": background.Checkpoints(None, 1, 0, 0.0, 0.0, []),
        "buffers_written": background.BuffersWritten(128, 0, 0, 0, 0, 0, 8192),
        "wal": background.WalWritten(1288490189, 12288, 0, 10, 0, 0, 0),
        "autovacuum": background.Autovacuum(
            tables={
                "ingest.orders": background.TableVacuums(autovacuum=1, autoanalyze=1),
                "fulfillment.orders": background.TableVacuums(autovacuum=0, autoanalyze=1),
            },
            running_at_start=[],
            running_at_end=[],
            logged={"ingest.orders": background.LoggedVacuums(cpu_s=0.5, seconds=2.0)},
        ),
        "other_databases": background.OtherDatabases(0, 0, []),
        "sessions_opened": {},
        "oldest_transaction_at_end": None,
        "postgres_cpu": None,
        "kafka_gc": background.GcPauses(0, 0.0, 0.0, 0, 0),
        "postgres_log": "postgres.log",
        "statements": background.Statements(
            total_exec_ms=1500.0,
            calls=10,
            shared_blks_written=0,
            this_cluster=background.ClusterStatements(exec_ms=1000.0, wal_bytes=1048576),
            top=[],
        ),
        "cost_ms": 100.0,
    }
    return background.Report(**(sections | overrides))


@pytest.fixture
def background_report() -> Callable[..., background.Report]:
    """``quiet_background``: a run's background report, sections replaced as given."""
    return quiet_background
