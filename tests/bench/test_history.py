"""``make bench-history`` at a tiny size: the report's shape, never its timings."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime

import pytest

from bench.common import ROOT, Percentiles
from bench.history import GROWTH_MAX, LOOKUPS, ReadFigures, SizeRun, growth, targets
from bench.history_data import SELLER, History
from devstack.postgres import run_psql

SEARCH_FILTERS = (
    "order id",
    "date range",
    "ASIN",
    "SKU",
    "buyer e-mail",
    "title words",
    "tracking number",
    "carrier",
    "status",
    "sales channel",
    "ship service",
)
OTHER_READS = (
    "search: ship-by date ascending, all history",
    "search: ship-by date descending, all history",
    "sales by day, 30 days",
    "sales by week, 30 days",
    "sales by SKU, 30 days",
    "sales by day, 365 days",
    "sales by week, 365 days",
    "sales by SKU, 365 days",
    "ads summary, 30 days",
    "ads summary, 365 days",
    "account health",
    "problem orders",
    "trace of one order",
    "alert job, every seller",
)


TINY = {
    "BENCH_HISTORY_SERVER": "test",
    "BENCH_HISTORY_ORDERS": "300",
    "BENCH_HISTORY_SIZES": "100",
    "BENCH_HISTORY_SELLERS": "5",
    "BENCH_HISTORY_ITERATIONS": "2",
    "BENCH_HISTORY_SECONDS": "0",
    "BENCH_HISTORY_BATCH": "100",
}


def bench_history(**env: str) -> list[str]:
    """``python -m bench.history`` at a tiny size on the test stack's PostgreSQL: its lines."""
    if "POSTGRES_URL" in os.environ:
        pytest.skip("runs on the PostgreSQL this test run started (.run/test)")
    done = subprocess.run(
        [sys.executable, "-m", "bench.history"],
        cwd=ROOT,
        env={**os.environ, **TINY, **env},
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout.strip().splitlines()


@pytest.mark.integration
def test_a_tiny_history_run_reports_every_read_at_every_size(postgres_server: str) -> None:
    lines = bench_history()
    report = json.loads(lines[-1])
    assert report["benchmark"] == "history"
    assert [r["seller_orders"] for r in report["runs"]] == [100, 300]
    for run in report["runs"]:
        names = {r["name"] for r in run["reads"]}
        for f in SEARCH_FILTERS:
            assert f"search: {f}" in names
        for f in SEARCH_FILTERS[2:]:
            assert f"search: {f}, all history" in names
        assert set(OTHER_READS) <= names
        for read in run["reads"]:
            assert read["status"] in (200, 0), read
            assert read["samples"] == 2
            assert set(read["latency"]) == {"p50_ms", "p95_ms", "p99_ms", "max_ms"}
            assert read["plan"]["rows_read"] >= 0, read
            assert read["plan"]["scans"], read
        assert run["database_mib"].keys() == {"fulfillment", "defects", "analytics"}
    by_name = {r["name"]: r for r in report["runs"][-1]["reads"]}
    assert by_name["search: order id"]["found"] == 1  # an order loaded is found
    assert by_name["search: tracking number, all history"]["found"] >= 1
    assert by_name["trace of one order"]["found"] >= 1  # its events
    assert by_name["problem orders"]["found"] >= 1  # the claims filed through defects
    assert {t["read"] for t in report["targets"]} >= {"account health", "trace of one order"}
    assert all(t["met"] is None for t in report["targets"])  # judged at 1,000,000 only
    assert {g["read"] for g in report["growth"]} >= {"search: order id", "trace of one order"}
    assert "targets:" in lines and "growth (p50):" in lines


@pytest.mark.integration
def test_kept_databases_are_measured_again_without_loading(postgres_server: str) -> None:
    first = bench_history(BENCH_HISTORY_KEEP="1", BENCH_HISTORY_ITERATIONS="1")
    tag = first[0].removeprefix("databases: ").split("_{")[0]
    try:
        again = bench_history(BENCH_HISTORY_REUSE=tag, BENCH_HISTORY_ITERATIONS="1")
    finally:
        for service in ("fulfillment", "defects", "analytics"):
            run_psql(postgres_server, f'DROP DATABASE IF EXISTS "{tag}_{service}" WITH (FORCE)')
    [run] = json.loads(again[-1])["runs"]  # only the size the databases hold
    assert (run["seller_orders"], run["load_seconds"]) == (300, 0.0)
    by_name = {r["name"]: r for r in run["reads"]}
    assert by_name["search: order id"]["found"] == 1  # the samples are orders the stores hold
    assert by_name["trace of one order"]["found"] >= 1
    before = {r["name"]: r for r in json.loads(first[-1])["runs"][-1]["reads"]}
    for name in ("sales by day, 30 days", "sales by day, 365 days", "search: status"):
        assert by_name[name]["found"] == before[name]["found"]  # the same days, as of its load


@pytest.mark.unit
def test_targets_and_growth_are_judged_at_one_million_and_a_tenth_of_it() -> None:
    def run(size: int, p50: float, p99: float) -> SizeRun:
        reads = [
            ReadFigures(name, "fulfillment", "/", 10, Percentiles(p50, p99, p99, p99), 200, 1)
            for name in ("search: order id", "sales by day, 365 days", "problem orders")
        ]
        return SizeRun(size, size, 730.0, 1.0, 1.0, 0, 0, {}, reads)

    runs = [run(100_000, 10.0, 20.0), run(1_000_000, 25.0, 150.0)]
    found = {t.read: t.met for t in targets(runs)}
    assert found == {"search: order id": False, "sales by day, 365 days": True}
    [lookup] = growth(runs)
    assert (lookup.read, lookup.ratio, lookup.met) == ("search: order id", 2.5, False)
    assert 2.5 > GROWTH_MAX and "order id" in LOOKUPS
    assert [t.met for t in targets(runs[:1])] == [None, None]  # 100,000: not judged


@pytest.mark.unit
def test_each_size_is_older_history_behind_the_same_present() -> None:
    history = History(1000, now=datetime(2026, 1, 1, tzinfo=UTC))
    first = list(history.take(10))
    second = list(history.take(10))
    own = [p for p in first + second if p.seller_id == SELLER]
    assert len(own) == 20 and len(first + second) == 40
    dates = [p.purchased for p in own]
    assert dates == sorted(dates, reverse=True)  # newest first, each size older
    assert len({p.document["AmazonOrderId"] for p in first + second}) == 40
