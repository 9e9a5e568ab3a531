"""``make bench-compare``'s own logic: the order of turns, what a turn is judged by, the
verdict, and where a base build's packages come from."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from bench.common import ROOT, Spread
from bench.compare import Turn, base_build, figures, pythonpath, schedule, verdict
from bench.runs import EndToEndRun

pytestmark = pytest.mark.unit

# The ``end_to_end_run`` fixture (conftest.py): a run with the figures given.
MakeRun = Callable[..., EndToEndRun]


@pytest.fixture
def turn(end_to_end_run: MakeRun) -> Callable[[str, float, list[float]], Turn]:
    def make(build: str, slowest: float, p99s: list[float]) -> Turn:
        full = end_to_end_run(
            applied_per_s=slowest,
            p99=2000.0,
            cpu=0.8,
            probe=10.0,
            while_loading={"fulfillment": slowest, "defects": slowest + 50},
        )
        rates = [
            end_to_end_run(
                rate=1000.0,
                applied_per_s=990.0,
                p99=p,
                p50=p / 3,
                cpu=1.3,
                probe=12.0,
                while_loading={"fulfillment": 990.0},
            )
            for p in p99s
        ]
        return Turn(pair=1, build=build, figures=figures(full, rates))

    return make


MakeTurn = Callable[[str, float, list[float]], Turn]


def test_turns_alternate_which_build_goes_first() -> None:
    assert schedule(3) == [
        (1, "base"),
        (1, "head"),
        (2, "head"),
        (2, "base"),
        (3, "base"),
        (3, "head"),
    ]


def test_a_turn_is_judged_by_its_slowest_consumer_while_loading_and_its_p99s(
    turn: MakeTurn,
) -> None:
    found = turn("head", 2100.0, [120.0, 260.0]).figures
    assert found.full_speed.slowest_consumer_while_loading_per_s == 2100.0
    assert [r.visible_p99_ms for r in found.rate] == [120.0, 260.0]
    assert found.rate[0].cpu_ms_per_order == 1.3


def test_the_verdict_gives_each_builds_medians_ranges_and_runs_under_the_p99_target(
    turn: MakeTurn,
) -> None:
    turns = [
        turn("base", 2000.0, [300.0, 200.0]),
        turn("head", 2200.0, [100.0, 150.0]),
        turn("head", 2400.0, [240.0, 260.0]),
        turn("base", 1800.0, [400.0, 210.0]),
    ]
    found = verdict(turns)
    assert found["base"].slowest_consumer_while_loading_per_s == Spread(
        median=1900.0, min=1800.0, max=2000.0
    )
    assert found["head"].rate_visible_p99_ms.median == 195.0
    assert found["head"].rate_runs_under_p99_target == "3 of 4"
    assert found["base"].rate_runs_under_p99_target == "2 of 4"
    assert found["head"].turns == 2


def test_a_base_revision_is_exported_and_its_services_import_from_its_tree() -> None:
    build = base_build("HEAD~1")
    tree = ROOT / ".run" / "compare" / build.rev
    assert build.pythonpath == pythonpath(tree)
    assert (tree / "services" / "ingest" / "src" / "ingest" / "__main__.py").is_file()
    found = subprocess.run(
        [sys.executable, "-c", "import ingest, shared; print(ingest.__file__, shared.__file__)"],
        env={"PYTHONPATH": build.pythonpath, "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert [Path(f).is_relative_to(tree) for f in found] == [True, True]


def test_a_run_too_short_for_the_timeline_is_judged_by_the_whole_run(
    end_to_end_run: MakeRun,
) -> None:
    full = end_to_end_run(applied_per_s=1500.0, p99=900.0, cpu=0.9, while_loading=None)
    found = figures(full, [])
    assert found.full_speed.slowest_consumer_while_loading_per_s == 1500.0
