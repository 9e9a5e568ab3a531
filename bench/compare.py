"""``make bench-compare``: the same short runs for two builds in turn, to tell a change from the
machine.

On this shared machine the same build's full-speed figure moved by a third between runs
minutes apart (docs/performance/history.md), more than most changes move it. One run of each
build says little; runs of both, interleaved, say more. For ``BENCH_PAIRS`` (4) pairs, in the
order base-head, head-base, base-head... (so a drift of the machine's speed falls on both
alike), each build gets a fresh cluster (``python -m <service> all`` on fresh databases and
topics, on the bench's private Kafka and PostgreSQL, started once for all runs) and runs:
- a warm-up that is not reported: ``BENCH_WARMUP`` (10,000) orders at full speed in batches
  of 500, then half as many at 1,000/s in batches of 100;
- ``BENCH_ORDERS`` (40,000) orders at full speed in batches of 500: orders/s applied by the
  slowest consumer while the load ran, and CPU an order;
- ``BENCH_REPEAT`` (2) runs of ``BENCH_RATE_SECONDS`` (30) at 1,000/s in batches of 100: the
  visibility p99 in fulfillment, and CPU an order.
Each run also reports the speed probe (a fixed piece of pure-Python work timed just before it).

``BENCH_BASE`` names the base: a git revision (its tree is exported under
``.run/compare/<sha>``) or a directory holding another checkout. The head is this tree. Both
run on this environment's installed packages: the services of the base are imported from its
tree (``PYTHONPATH``), the harness is this tree's for both, so both are measured alike.

Prints a line per run, then the medians and ranges per build, then the JSON document (also
saved under ``bench/results/``).
"""

from __future__ import annotations

import asyncio
import io
import os
import shutil
import subprocess
import tarfile
import time
from dataclasses import dataclass
from pathlib import Path

from bench.cluster import LAYOUTS, Cluster
from bench.common import ROOT, Machine, Spread, machine, save, spread
from bench.endtoend import INFRA, Bench, versions
from bench.runs import EndToEndRun

P99_TARGET_MS = 250.0


@dataclass(frozen=True)
class Build:
    name: str  # "base" or "head"
    rev: str  # what it is: a short commit id, "+ changes" when the tree has uncommitted ones
    pythonpath: str | None  # where its packages are imported from; None: this tree's install


@dataclass(frozen=True)
class Plan:
    pairs: int
    warmup: int
    orders: int
    rate: float
    rate_seconds: float
    repeat: int

    @classmethod
    def from_env(cls) -> Plan:
        env = os.environ
        return cls(
            pairs=max(1, int(env.get("BENCH_PAIRS", "4"))),
            warmup=int(env.get("BENCH_WARMUP", "10000")),
            orders=int(env.get("BENCH_ORDERS", "40000")),
            rate=float(env.get("BENCH_RATE", "1000")),
            rate_seconds=float(env.get("BENCH_RATE_SECONDS", "30")),
            repeat=max(1, int(env.get("BENCH_REPEAT", "2"))),
        )


def _git(*args: str, cwd: Path = ROOT) -> str:
    return subprocess.run(
        ["git", *args], cwd=cwd, check=True, capture_output=True, text=True
    ).stdout.strip()


def head_build() -> Build:
    rev = _git("rev-parse", "--short", "HEAD")
    dirty = bool(_git("status", "--porcelain", "--untracked-files=no"))
    return Build("head", f"{rev} + changes" if dirty else rev, None)


def base_build(spec: str) -> Build:
    """``spec``: a directory holding a checkout, or a git revision of this repository."""
    given = Path(spec)
    if given.is_dir():
        tree = given.resolve()
        rev = _git("rev-parse", "--short", "HEAD", cwd=tree) if (tree / ".git").exists() else spec
    else:
        rev = _git("rev-parse", "--short", f"{spec}^{{commit}}")
        tree = ROOT / ".run" / "compare" / rev
        if not (tree / "services").is_dir():
            _export(rev, tree)
    return Build("base", rev, pythonpath(tree))


def _export(rev: str, tree: Path) -> None:
    """``git archive`` of ``rev`` unpacked into ``tree``, whole or not at all (unpacked beside
    it, then renamed: an interrupted export is not taken for a tree next time)."""
    archive = subprocess.run(
        ["git", "archive", rev], cwd=ROOT, check=True, capture_output=True
    ).stdout
    partial = tree.with_name(f"{tree.name}.partial")
    shutil.rmtree(partial, ignore_errors=True)
    shutil.rmtree(tree, ignore_errors=True)
    partial.mkdir(parents=True)
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        if hasattr(tarfile, "data_filter"):  # 3.11.4 and later
            tar.extractall(partial, filter="data")
        else:
            tar.extractall(partial)  # our own repository's archive
    partial.rename(tree)


def pythonpath(tree: Path) -> str:
    """The source folders of a checkout's packages (the uv workspace's members)."""
    folders = [tree / "shared" / "src", tree / "infra" / "src"]
    folders += sorted(p / "src" for p in (tree / "services").iterdir() if (p / "src").is_dir())
    return os.pathsep.join(str(f) for f in folders)


def schedule(pairs: int) -> list[tuple[int, str]]:
    """(pair, build) in the order they run: base-head, head-base, base-head..."""
    order = []
    for pair in range(1, pairs + 1):
        first, second = ("base", "head") if pair % 2 else ("head", "base")
        order += [(pair, first), (pair, second)]
    return order


@dataclass(frozen=True)
class FullSpeed:
    """The full-speed run's figures."""

    slowest_consumer_while_loading_per_s: float
    applied_per_s: float | None
    cpu_ms_per_order: float
    speed_probe_ms: float


@dataclass(frozen=True)
class AtRate:
    """A rate run's figures."""

    target_rate: float | str
    visible_p99_ms: float
    visible_p50_ms: float | None
    cpu_ms_per_order: float
    speed_probe_ms: float


@dataclass(frozen=True)
class Figures:
    """What one build's turn is judged by."""

    full_speed: FullSpeed
    rate: list[AtRate]


@dataclass(frozen=True)
class Turn:
    pair: int
    build: str  # "base" or "head"
    figures: Figures


@dataclass(frozen=True)
class BuildVerdict:
    """One build's medians and ranges over its turns."""

    turns: int
    slowest_consumer_while_loading_per_s: Spread
    full_speed_cpu_ms_per_order: Spread
    rate_visible_p99_ms: Spread
    rate_runs_under_p99_target: str  # "N of M"
    rate_cpu_ms_per_order: Spread
    speed_probe_ms: Spread


@dataclass(frozen=True)
class Report:
    """``make bench-compare``'s document."""

    machine: Machine
    versions: dict[str, str]
    builds: dict[str, str]  # "base" and "head": what each is
    plan: Plan
    turns: list[Turn]
    verdict: dict[str, BuildVerdict]
    benchmark: str = "compare"


def figures(full: EndToEndRun, rates: list[EndToEndRun]) -> Figures:
    """What one build's turn is judged by, from ``Bench.end_to_end``'s reports."""
    # A run too short for the timeline's stretches (a smoke test's) has only the whole run's.
    slowest = full.slowest_while_loading
    if slowest is None:
        slowest = _measured(full.throughput.applied_per_s, "the full-speed run's applied/s")
    return Figures(
        full_speed=FullSpeed(
            slowest_consumer_while_loading_per_s=slowest,
            applied_per_s=full.throughput.applied_per_s,
            cpu_ms_per_order=_measured(full.cpu.ms_per_order, "the full-speed run's CPU/order"),
            speed_probe_ms=full.cpu.machine.speed_probe_ms,
        ),
        rate=[_at_rate(run) for run in rates],
    )


def _at_rate(run: EndToEndRun) -> AtRate:
    return AtRate(
        target_rate=run.target_rate,
        visible_p99_ms=_measured(run.visible.p99_ms, "a rate run's visibility p99"),
        visible_p50_ms=run.visible.p50_ms,
        cpu_ms_per_order=_measured(run.cpu.ms_per_order, "a rate run's CPU/order"),
        speed_probe_ms=run.cpu.machine.speed_probe_ms,
    )


def _measured(value: float | None, what: str) -> float:
    if value is None:
        raise RuntimeError(f"{what} was not measured: no verdict without it")
    return value


def verdict(turns: list[Turn]) -> dict[str, BuildVerdict]:
    """Per build: medians and ranges over its turns."""
    out = {}
    for name in ("base", "head"):
        mine = [t.figures for t in turns if t.build == name]
        if mine:
            out[name] = _build_verdict(mine)
    return out


def _build_verdict(mine: list[Figures]) -> BuildVerdict:
    full = [f.full_speed for f in mine]
    rates = [r for f in mine for r in f.rate]
    p99s = [r.visible_p99_ms for r in rates]
    return BuildVerdict(
        turns=len(mine),
        slowest_consumer_while_loading_per_s=spread(
            [f.slowest_consumer_while_loading_per_s for f in full]
        ),
        full_speed_cpu_ms_per_order=spread([f.cpu_ms_per_order for f in full]),
        rate_visible_p99_ms=spread(p99s),
        rate_runs_under_p99_target=f"{sum(p < P99_TARGET_MS for p in p99s)} of {len(p99s)}",
        rate_cpu_ms_per_order=spread([r.cpu_ms_per_order for r in rates]),
        speed_probe_ms=spread([f.speed_probe_ms for f in full] + [r.speed_probe_ms for r in rates]),
    )


async def turn(build: Build, plan: Plan) -> Figures:
    """One build's fresh cluster: the warm-up, the full-speed run, the rate runs."""
    tag = f"cmp{int(time.time())}{build.name}"
    extra = {"PYTHONPATH": build.pythonpath} if build.pythonpath else {}
    cluster = Cluster(INFRA, tag, extra_env=extra)
    cluster.create()
    cluster.start_all(LAYOUTS["all"])
    try:
        await asyncio.sleep(3)  # the consumers join their groups
        bench = Bench(cluster)
        if plan.warmup:
            await bench.end_to_end(plan.warmup, 0, 500)
            await bench.end_to_end(plan.warmup // 2, plan.rate, 100)
        full = await bench.end_to_end(plan.orders, 0, 500)
        count = min(plan.orders, int(plan.rate * plan.rate_seconds))
        rates = [await bench.end_to_end(count, plan.rate, 100) for _ in range(plan.repeat)]
        dead = cluster.dead()
    finally:
        cluster.stop_all()
        cluster.drop()
    if dead:
        raise RuntimeError(f"{build.name} ({build.rev}): {', '.join(dead)} died during its turn")
    return figures(full, rates)


def line(pair: int, build: Build, found: Figures) -> str:
    full = found.full_speed
    rates = ", ".join(f"{r.visible_p99_ms:.0f}" for r in found.rate)
    rate_cpu = ", ".join(f"{r.cpu_ms_per_order:.2f}" for r in found.rate)
    return (
        f"  pair {pair} {build.name} ({build.rev}): full speed "
        f"{full.slowest_consumer_while_loading_per_s:,.0f}/s while loading at "
        f"{full.cpu_ms_per_order:.2f} ms CPU/order (probe {full.speed_probe_ms:.1f} ms); "
        f"{found.rate[0].target_rate:g}/s p99 {rates} ms at {rate_cpu} ms CPU/order"
    )


def summary(report: Report) -> str:
    lines = [f"medians (range) over {report.plan.pairs} pairs:"]
    for name, v in report.verdict.items():
        s, p = v.slowest_consumer_while_loading_per_s, v.rate_visible_p99_ms
        lines.append(
            f"  {name} ({report.builds[name]}): full speed {s.median:,.0f}/s "
            f"({s.min:,.0f}-{s.max:,.0f}) at {v.full_speed_cpu_ms_per_order.median} "
            f"ms CPU/order; p99 {p.median:.0f} ms ({p.min:.0f}-{p.max:.0f}), "
            f"{v.rate_runs_under_p99_target} under {P99_TARGET_MS:.0f} ms; "
            f"speed probe {v.speed_probe_ms.median} ms"
        )
    return "\n".join(lines)


async def run() -> Report:
    plan = Plan.from_env()
    spec = os.environ.get("BENCH_BASE")
    if not spec:
        raise SystemExit("BENCH_BASE: the git revision (or checkout directory) to compare with")
    builds = {"base": base_build(spec), "head": head_build()}
    print(f"base {builds['base'].rev} against head {builds['head'].rev}, {plan.pairs} pairs")
    was_running = INFRA.is_running()
    INFRA.start()
    turns = []
    try:
        for pair, name in schedule(plan.pairs):
            found = await turn(builds[name], plan)
            print(line(pair, builds[name], found), flush=True)
            turns.append(Turn(pair=pair, build=name, figures=found))
    finally:
        if not was_running:
            INFRA.stop()
    return Report(
        machine=machine(),
        versions=versions(),
        builds={name: b.rev for name, b in builds.items()},
        plan=plan,
        turns=turns,
        verdict=verdict(turns),
    )


def main() -> None:
    report = asyncio.run(run())
    print(summary(report))
    print(save("compare", report))


if __name__ == "__main__":
    main()
