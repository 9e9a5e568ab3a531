"""``make bench-capacity``'s figures: per role, per order, from two readings (no timings)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.capacity import STEPS, Plan, Report, Round, figures, role_run, summary, topic_bytes
from bench.common import Machine, Spread
from bench.report import jsonable

pytestmark = pytest.mark.unit


def test_a_window_s_cpu_and_wal_are_divided_by_the_orders_worth_done() -> None:
    start = (10.0, {"role": 1.0, "postgres": 5.0, "kafka": 0.5}, 1_000_000)
    end = (14.0, {"role": 3.0, "postgres": 6.0, "kafka": 0.7}, 21_000_000)
    run = role_run("fulfillment", "worker", 8000, start, end, 10.5)
    assert run.name == "fulfillment-worker"
    assert run.orders_per_s == 2000.0
    assert run.cpu_ms_per_order == {"role": 0.25, "postgres": 0.125, "kafka": 0.025}
    assert run.wal_bytes_per_order == 2500


def test_the_steps_start_with_ingest_s_api_and_its_relay_then_each_worker() -> None:
    assert STEPS[:3] == (("ingest", "api"), ("ingest", "relay"), ("fulfillment", "worker"))
    assert {s for s, r in STEPS if r == "worker"} == {
        "fulfillment",
        "defects",
        "analytics",
        "ingest",
    }


def test_plan_runs_twelve_partitions_and_one_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("BENCH_PARTITIONS", "BENCH_ORDERS", "BENCH_REPEAT"):
        monkeypatch.delenv(name, raising=False)
    assert Plan.from_env().partitions == [12, 1]
    monkeypatch.setenv("BENCH_PARTITIONS", "6,")
    assert Plan.from_env().partitions == [6]


def test_broker_bytes_are_summed_per_topic_over_its_partitions_segments(tmp_path: Path) -> None:
    for partition, size in ((0, 300), (1, 500)):
        directory = tmp_path / f"cap1.orders.v1-{partition}"
        directory.mkdir()
        (directory / "00000000000000000000.log").write_bytes(b"x" * size)
        (directory / "00000000000000000000.index").write_bytes(b"x" * 10_000)  # preallocated
    (tmp_path / "cap1.fulfillment.v1-0").mkdir()
    (tmp_path / "cap2.orders.v1-0").mkdir()  # another cluster's
    assert topic_bytes(tmp_path, "cap1.") == {"fulfillment.v1": 0, "orders.v1": 800}


def _round(partitions: int, api_cpu: float, worker_rate: float) -> Round:
    reading = (0.0, {"role": 0.0, "postgres": 0.0, "kafka": 0.0}, 0)
    return Round(
        partitions=partitions,
        orders=1000,
        steps=[
            role_run("ingest", "api", 1000, reading, (1.0, {**reading[1], "role": api_cpu}, 0), 10),
            role_run(
                "fulfillment", "worker", 1000, reading, (1000 / worker_rate, reading[1], 0), 20
            ),
        ],
        topic_bytes_per_order={"orders.v1": 1500},
    )


def test_figures_give_each_role_s_median_and_range_per_partition_count() -> None:
    rounds = [_round(12, 0.2, 2000), _round(1, 0.2, 1500), _round(12, 0.4, 2500)]
    found = {(f.role, f.partitions): f for f in figures(rounds)}
    api = found[("ingest-api", 12)]
    assert api.runs == 2
    assert api.role_cpu_ms_per_order == Spread(median=0.3, min=0.2, max=0.4)
    assert found[("fulfillment-worker", 12)].orders_per_s == Spread(2250.0, 2000.0, 2500.0)
    assert found[("fulfillment-worker", 1)].runs == 1


def test_the_report_names_every_role_in_its_summary_and_document() -> None:
    rounds = [_round(12, 0.2, 2000)]
    report = Report(
        tag="cap1",
        machine=Machine(cores=2, memory_mib=24000, python="3.11", platform="Linux", kafka="4"),
        versions={},
        rounds=rounds,
        roles=figures(rounds),
    )
    text = summary(report)
    assert "ingest-api on 12 partition(s)" in text
    assert "fulfillment-worker on 12 partition(s)" in text
    document = jsonable(report)
    assert isinstance(document, dict)
    assert document["benchmark"] == "capacity"
    assert [r["role"] for r in document["roles"]] == ["ingest-api", "fulfillment-worker"]
    assert set(document["rounds"][0]["steps"][0]) == {
        "service",
        "role",
        "orders",
        "seconds",
        "orders_per_s",
        "cpu_ms_per_order",
        "wal_bytes_per_order",
        "speed_probe_ms",
    }
