"""``make bench``'s run plan: which rates, in batches of what."""

from __future__ import annotations

import os
from collections.abc import Callable

import pytest

from bench.cluster import RssTrend
from bench.common import Spread
from bench.endtoend import Plan, _hops, _in_flight, _rates, repeated
from bench.limits import KafkaLimit, PipelineCpu, PipelineLimit, PostgresLimit
from bench.report import jsonable
from bench.runs import EndToEndRun
from bench.targets import Limits, Ratios, ratios, targets

# The ``end_to_end_run`` fixture (conftest.py): a run with the figures given.
MakeRun = Callable[..., EndToEndRun]

pytestmark = pytest.mark.unit


def test_rates_take_the_rate_batch_unless_an_entry_names_its_own(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("BENCH_RATES", "500, 1000:500,,2000")
    assert _rates(100) == [(500.0, 100), (1000.0, 500), (2000.0, 100)]


def test_no_rates_means_no_rate_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BENCH_RATES", "")
    assert _rates(100) == []


def test_in_flight_covers_half_a_second_of_requests_at_a_rate(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("BENCH_IN_FLIGHT", raising=False)
    assert [_in_flight(r, 100) for r in (0, 500, 1000, 2000)] == [2, 3, 5, 10]
    monkeypatch.setenv("BENCH_IN_FLIGHT", "7")
    assert _in_flight(2000, 100) == 7


def test_hops_split_intake_to_visibility_by_the_stores_timestamps() -> None:
    received = {"a": 10.0, "b": 20.0, "c": 30.0}
    relayed = {"a": 10.1, "b": 20.3}  # c: not picked up yet
    created = {"a": 10.15, "b": 20.5, "c": 31.0}
    seen = {"b": 20.6}  # only a sample is polled
    hops = _hops(received, relayed, created, seen)
    assert hops.ingest_to_relay.max_ms == pytest.approx(300.0)
    assert hops.ingest_to_relay.p50_ms == pytest.approx(300.0)  # of two: the upper
    assert hops.relay_to_fulfillment.max_ms == pytest.approx(200.0)
    assert hops.relay_to_fulfillment.p50_ms == pytest.approx(200.0)
    assert jsonable(hops.fulfillment_to_visible) == {
        "p50_ms": pytest.approx(100.0),
        "p95_ms": pytest.approx(100.0),
        "p99_ms": pytest.approx(100.0),
        "max_ms": pytest.approx(100.0),
    }
    assert jsonable(_hops({}, {}, {}, {}).ingest_to_relay) == {}  # nothing measured: no keys


def test_repeated_runs_give_median_and_range_per_rate_and_batch(
    end_to_end_run: MakeRun,
) -> None:
    def run(rate: float, batch: int, p99: float, applied: float) -> EndToEndRun:
        return end_to_end_run(rate=rate, batch=batch, p99=p99, p50=p99 / 2, applied_per_s=applied)

    runs = [
        run(1000.0, 100, 349.0, 980.0),
        run(500.0, 100, 150.0, 495.0),  # once: no entry
        run(1000.0, 100, 201.0, 990.0),
        run(1000.0, 500, 400.0, 999.0),  # another batch size: not mixed in
        run(1000.0, 100, 239.0, 985.0),
        run(1000.0, 500, 300.0, 997.0),
    ]
    out = repeated(runs)
    assert [(e.target_rate, e.batch_size, e.runs) for e in out] == [
        (1000.0, 100, 3),
        (1000.0, 500, 2),
    ]
    assert out[0].visible_p99_ms == Spread(median=239.0, min=201.0, max=349.0)
    assert out[0].applied_per_s == Spread(median=985.0, min=980.0, max=990.0)
    assert out[1].visible_p99_ms == Spread(median=350.0, min=300.0, max=400.0)


def test_the_plan_comes_from_the_environment_with_the_documented_defaults(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in [k for k in os.environ if k.startswith("BENCH_")]:
        monkeypatch.delenv(name)
    plan = Plan.from_env()
    assert (plan.orders, plan.batch, plan.rate_batch, plan.repeat) == (100_000, 500, 100, 3)
    assert plan.rates == [(500.0, 100), (1000.0, 100), (2000.0, 100)]
    assert (plan.profile_seconds, plan.soak_seconds, plan.warmup) == (30, 600.0, 10_000)
    assert plan.layout == "all"
    monkeypatch.setenv("BENCH_LAYOUT", "roles")
    assert Plan.from_env().layout == "roles"
    monkeypatch.setenv("BENCH_LAYOUT", "one")
    with pytest.raises(SystemExit, match="all, roles"):
        Plan.from_env()
    monkeypatch.delenv("BENCH_LAYOUT")
    monkeypatch.setenv("BENCH_PROFILE", "0")
    monkeypatch.setenv("BENCH_RATE_BATCH", "50")
    monkeypatch.setenv("BENCH_REPEAT", "0")
    plan = Plan.from_env()
    assert plan.profile_seconds == 0
    assert plan.rates[0] == (500.0, 50)
    assert plan.repeat == 1  # at least one run of each rate


def test_ratios_set_the_platform_against_the_bare_pipeline_and_each_bare_client(
    end_to_end_run: MakeRun,
) -> None:
    full = end_to_end_run(accepted_per_s=3000.0, applied_per_s=2000.0, cpu=0.8)
    limit = Limits(
        kafka=KafkaLimit(1000, 1500, 40000.0, 50000.0, 32000.0),
        postgres=PostgresLimit(1000, 500, 30000.0, 20000.0),
        pipeline=PipelineLimit(1000, 500, [], 8000.0, 9000.0, PipelineCpu({}, 0.2)),
    )
    assert jsonable(ratios(full, limit)) == {
        "applied_vs_bare_pipeline": 0.25,
        "bare_pipeline_cpu_share": 0.25,
        "accepted_vs_bare_pg_executemany": 0.15,
        "accepted_vs_bare_pg_copy": 0.1,
        "applied_vs_bare_kafka_produce_then_consume": 0.0625,
        "accepted_vs_bare_kafka_produce": 0.075,
    }


def _ratios(pipeline: float | None) -> Ratios:
    return Ratios(pipeline, None, None, None, None, None)


def test_targets_say_what_this_run_met_with_what_it_was_measured_on(
    end_to_end_run: MakeRun,
) -> None:
    runs = [
        end_to_end_run(
            p99=900.0, cpu=0.8, while_loading={"fulfillment": 2250.0, "defects": 2400.0}
        ),
        end_to_end_run(rate=1000.0, p99=240.0, cpu=1.5),
        end_to_end_run(rate=1000.0, p99=310.0, cpu=1.6),
        end_to_end_run(rate=1000.0, p99=200.0, cpu=1.4),
        end_to_end_run(rate=500.0, p99=120.0, cpu=1.8),
    ]
    soak = {"ingest-all": RssTrend([], 0.02), "fulfillment-all": RssTrend([], -0.3)}
    got = jsonable(targets(runs, _ratios(0.2), soak))
    assert isinstance(got, dict)
    assert got["sustained_orders_per_s"] == {
        "target": 2200,
        "value": 2250.0,
        "basis": "slowest consumer while the load ran",
        "met": True,
        "cpu_ms_per_order": 0.8,
        "speed_probe_ms": 10.0,
    }
    assert got["p99_ms_at_1000_per_s"] == {
        "target": 250,
        "value": 240.0,
        "basis": "median of 3 runs",
        "runs_under_target": 2,
        "met": True,
        "cpu_ms_per_order": [1.5, 1.6, 1.4],
    }
    assert got["applied_vs_bare_pipeline"] == {"target": 0.5, "value": 0.2, "met": False}
    assert got["memory_flat"] == {
        "target": "RSS growth at most 0.1 MiB/min in the soak's second half, every service",
        "value": {"ingest-all": 0.02, "fulfillment-all": -0.3},
        "met": True,  # memory given back is not a leak
    }
    soak["defects-all"] = RssTrend([], 0.3)
    assert targets(runs, _ratios(0.2), soak).memory_flat.met is False


def test_targets_not_measured_in_a_run_say_so(end_to_end_run: MakeRun) -> None:
    got = targets([end_to_end_run(p99=900.0, cpu=0.9)], _ratios(None), None)
    assert got.sustained_orders_per_s.basis == "applied over the whole run"
    assert got.sustained_orders_per_s.value == 2050.0
    assert got.sustained_orders_per_s.met is False
    assert jsonable(got.p99_ms_at_1000_per_s) == {"target": 250, "value": None, "met": None}
    assert got.applied_vs_bare_pipeline.met is None
    assert got.memory_flat.met is None
