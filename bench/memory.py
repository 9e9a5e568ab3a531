"""``python -m bench.memory [soak]``: where a service's memory goes over a long run.

Measurements that print figures, not tests. Two of them, on the benchmark PostgreSQL and Kafka
(``.run/bench/``, started if needed), each on fresh databases:

``python -m bench.memory``: the apply path alone, in process. ``MEMORY_SERVICE``
(fulfillment) gets ``MEMORY_ROUNDS`` (24) rounds of ``MEMORY_ORDERS`` (5,000) new orders
through its own ``EventApplier.apply_many``, ``order.created`` then ``order.updated``, built
by ``bench.consumers.events`` a run of ``BENCH_RUN`` (500) at a time, as a fetch brings them
(24 rounds are 240,000 events). Prints a sample after every round; with ``MEMORY_TRACE=1``
(the default; about 15 times slower) the top growth by traceback (``MEMORY_FRAMES``, 12)
from round ``MEMORY_BASELINE_ROUND`` (2) to the end; then one more round with the cyclic
garbage collector off and what it would have had to free (``cyclic garbage``); RSS before and
after ``malloc_trim(0)``.

``python -m bench.memory soak``: the whole process under load, as ``make bench``'s soak: ingest
and ``MEMORY_SERVICE`` as ``python -m <svc> all`` (the service wrapped by ``python -m
bench.memory inside``, which samples it from a thread), the load generator posting
``MEMORY_SOAK_RATE`` (500) orders/s for ``MEMORY_SOAK_SECONDS`` (600) in batches of
``MEMORY_SOAK_BATCH`` (500; ``make bench``'s soak now posts 100 at a time).
Prints RSS by minute and its growth over the second half (``bench.cluster.MemoryWatch``), the
service's own samples minute by minute and after ``malloc_trim(0)`` at the end, its
collector's pauses, and a census at ``MEMORY_CENSUS_AT`` (70 % of the run): the cyclic
garbage the collector holds at that moment, and what 30 s of work make with it off. With
``MEMORY_TRACE=1`` the service also traces allocations from 30 s in and the top growth
between snapshots is printed (slow: the service falls behind at 500 orders/s).

A sample, in MiB: ``rss`` (``VmRSS``); ``traced`` (tracemalloc, when on); ``pymalloc``, the
1 MiB arenas of small Python objects and how much of them is in use
(``sys._debugmallocstats``; not available while tracing); ``heap``/``free``, glibc malloc's
heap (arenas and mmapped chunks) and how much of it is free but kept (``mallinfo2``); ``gc``,
the objects the cyclic collector tracks (objects frozen at start-up not counted).

Reading them: a leak grows ``pymalloc`` in use (or ``traced``) and never comes back;
garbage waiting for the collector grows it and drops at a collection; the allocator's
fragmentation grows ``rss``, ``free`` or the arenas while what is in use stays flat, and
``malloc_trim`` gives part of it back. ``MALLOC_ARENA_MAX=2`` in the environment shows how
much glibc's per-thread arenas add. Each prints its JSON document last (also saved under
``bench/results/``).
"""

from __future__ import annotations

import asyncio
import ctypes
import gc
import json
import os
import re
import runpy
import subprocess
import sys
import tempfile
import threading
import time
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from bench import consumers
from bench.cluster import API_KEY, Cluster, MemoryWatch, Proc, RssTrend, rss_kib
from bench.common import ROOT, Machine, connect, machine, save
from bench.endtoend import INFRA
from bench.loadgen import LoadProcess, LoadSpec
from bench.report import FLATTEN, OMIT, Json, jsonable, key
from devstack import config
from ingest.intake.adapters import amazon
from ingest.intake.domain.model import IncomingOrder
from orderflow_testkit.samples import amazon_order
from shared.db.migrations import upgrade_to_head
from shared.pii import PIICipher
from shared.runtime import open_resources

MIB = 1024 * 1024


class _MallInfo2(ctypes.Structure):
    _fields_ = [
        (name, ctypes.c_size_t)
        for name in (
            "arena",
            "ordblks",
            "smblks",
            "hblks",
            "hblkhd",
            "usmblks",
            "fsmblks",
            "uordblks",
            "fordblks",
            "keepcost",
        )
    ]


_LIBC = ctypes.CDLL("libc.so.6")
_LIBC.mallinfo2.restype = _MallInfo2


def rss_bytes() -> int:
    return (rss_kib() or 0) * 1024


def glibc_heap() -> dict[str, int]:
    """glibc malloc over all its arenas: what it holds from the system, what is in use, what
    is free inside it (not returned), in bytes."""
    info = _LIBC.mallinfo2()
    return {
        "heap": info.arena + info.hblkhd,
        "in_use": info.uordblks + info.hblkhd,
        "free": info.fordblks,
    }


def pymalloc() -> dict[str, int]:
    """pymalloc's arenas (bytes held) and the bytes of its blocks in use."""
    with tempfile.TemporaryFile(mode="w+") as out:
        sys.stderr.flush()
        saved = os.dup(2)
        os.dup2(out.fileno(), 2)
        try:
            sys._debugmallocstats()
        finally:
            os.dup2(saved, 2)
            os.close(saved)
        out.seek(0)
        text = out.read()

    def figure(label: str) -> int:
        found = re.search(rf"^{re.escape(label)}\s*=\s*([\d,]+)", text, re.M)
        return int(found.group(1).replace(",", "")) if found else 0

    arenas = figure("# arenas allocated current")
    return {"arenas": arenas * MIB, "in_use": figure("# bytes in allocated blocks")}


@dataclass(frozen=True)
class Sample:
    """A process's memory at one moment, by layer (see the module's docstring), in MiB; the
    apply rounds label it with the round and the events so far, the service's own sampler
    with whether ``malloc_trim`` just ran and the collector's pauses so far."""

    seconds: float
    rss_mib: float
    traced_mib: float | None
    tracemalloc_own_mib: float
    pymalloc_mib: dict[str, float]  # arenas, in_use
    glibc_mib: dict[str, float]  # heap, in_use, free
    gc_objects: int
    gc_stats: list[dict[str, int]]
    round: int | None = field(default=None, metadata=OMIT)
    events: int | None = field(default=None, metadata=OMIT)
    trimmed: bool | None = field(default=None, metadata=OMIT)
    gc_pauses: dict[str, float] | None = field(default=None, metadata=OMIT)

    @classmethod
    def from_json(cls, found: Json) -> Sample:
        """A sample as the service's sampler wrote it (``samples.jsonl``)."""
        return cls(**found)


def sample(
    started: float,
    *,
    round_no: int | None = None,
    events: int | None = None,
    trimmed: bool | None = None,
    gc_pauses: dict[str, float] | None = None,
) -> Sample:
    """This process's memory now, by layer (see the module's docstring)."""
    tracing = tracemalloc.is_tracing()
    traced = tracemalloc.get_traced_memory()[0] if tracing else None
    return Sample(
        round=round_no,
        events=events,
        trimmed=trimmed,
        gc_pauses=gc_pauses,
        seconds=round(time.perf_counter() - started, 1),
        rss_mib=round(rss_bytes() / MIB, 1),
        traced_mib=None if traced is None else round(traced / MIB, 1),
        tracemalloc_own_mib=round(tracemalloc.get_tracemalloc_memory() / MIB, 1),
        pymalloc_mib={k: round(v / MIB, 1) for k, v in pymalloc().items()},
        glibc_mib={k: round(v / MIB, 1) for k, v in glibc_heap().items()},
        gc_objects=len(gc.get_objects()),
        gc_stats=gc.get_stats(),
    )


def show(s: Sample, label: int | str, events: int) -> None:
    """One line of ``s``: ``label`` (a round) and the ``events`` applied so far first."""
    traced = "-" if s.traced_mib is None else f"{s.traced_mib:.1f}"
    py, libc = s.pymalloc_mib, s.glibc_mib
    print(
        f"  round {label:>3} {events:>8} events {s.seconds:>7.1f} s  "
        f"rss {s.rss_mib:6.1f}  traced {traced:>6}  "
        f"pymalloc {py['arenas']:6.1f} ({py['in_use']:6.1f} used)  "
        f"heap {libc['heap']:6.1f} ({libc['free']:6.1f} free)  gc {s.gc_objects:>8}",
        flush=True,
    )


@dataclass(frozen=True)
class AllocationGrowth:
    """An allocation site (by traceback) that grew: by how much, in how many blocks."""

    kib: float
    blocks: int
    traceback: list[str]


def growth(
    before: tracemalloc.Snapshot, after: tracemalloc.Snapshot, top: int
) -> list[AllocationGrowth]:
    """The allocation sites (by traceback) that grew most from ``before`` to ``after``."""
    skip = [tracemalloc.Filter(False, tracemalloc.__file__)]
    diff = after.filter_traces(skip).compare_to(before.filter_traces(skip), "traceback")
    out = []
    for stat in diff[:top]:
        if stat.size_diff <= 0:
            break
        out.append(
            AllocationGrowth(
                kib=round(stat.size_diff / 1024, 1),
                blocks=stat.count_diff,
                traceback=[f"{f.filename}:{f.lineno}" for f in stat.traceback],
            )
        )
    return out


def orders_of(round_no: int, n: int, stamp: int) -> list[IncomingOrder]:
    parsed = [
        amazon.parse(
            amazon_order(amazon_order_id=f"{100 + i % 900}-{stamp:05d}{round_no:02d}-{i:07d}")
        )
        for i in range(n)
    ]
    return [o for o in parsed if isinstance(o, IncomingOrder)]


@dataclass(frozen=True)
class GarbageType:
    type: str
    objects: int
    kib: float


@dataclass(frozen=True)
class Garbage:
    """What a full collection found unreachable (reference cycles), by type; over how many
    events (``events``) or seconds (``seconds``) of work, when that is known."""

    objects: int
    kib: float
    top: list[GarbageType]
    events: int | None = field(default=None, metadata=OMIT)
    seconds: float | None = field(default=None, metadata=OMIT)

    @classmethod
    def from_json(cls, found: Json) -> Garbage:
        """A census as the service's sampler wrote it (``census.json``)."""
        return cls(**{**found, "top": [GarbageType(**t) for t in found["top"]]})


@dataclass(frozen=True)
class MallocTrim:
    rss_before_mib: float
    rss_after_mib: float
    glibc_mib_after: dict[str, float]


@dataclass(frozen=True)
class Applied:
    """The apply rounds: a sample after each, the top growth by traceback, the cyclic
    garbage of one more round, and ``malloc_trim`` at the end."""

    samples: list[Sample]
    top_growth: list[AllocationGrowth]
    garbage: Garbage
    malloc_trim: MallocTrim


async def apply_rounds(
    service: str, rounds: int, per_round: int, run: int, *, trace: bool, frames: int
) -> Applied:
    tag = f"memory{int(time.time())}_{service}"
    INFRA.postgres.create_database(tag)
    url = INFRA.postgres.url(tag)
    spec = consumers._spec(service)
    await asyncio.to_thread(upgrade_to_head, spec.migrations_dir, url)
    pii = PIICipher(config.pii_key())
    stamp = int(time.time()) % 100_000
    started = time.perf_counter()
    async with open_resources(spec, consumers.settings_of(service, url)) as resources:
        if trace:  # from here: what the apply path allocates and keeps, not the imports
            tracemalloc.start(frames)
        samples, top = await _sampled_rounds(resources, rounds, per_round, run, pii, stamp, started)
        gc.collect()
        gc.disable()  # one more round, then what only the cyclic collector would have freed
        applied = await apply_round(resources, orders_of(rounds + 1, per_round, stamp), run, pii)
        garbage = replace(cyclic_garbage(), events=applied)
        gc.enable()
        before_trim = rss_bytes()
        _LIBC.malloc_trim(0)
        trimmed = MallocTrim(
            rss_before_mib=round(before_trim / MIB, 1),
            rss_after_mib=round(rss_bytes() / MIB, 1),
            glibc_mib_after={k: round(v / MIB, 1) for k, v in glibc_heap().items()},
        )
    return Applied(samples=samples, top_growth=top, garbage=garbage, malloc_trim=trimmed)


async def _sampled_rounds(
    resources: Any,
    rounds: int,
    per_round: int,
    run: int,
    pii: PIICipher,
    stamp: int,
    started: float,
) -> tuple[list[Sample], list[AllocationGrowth]]:
    """``rounds`` rounds, a sample after each (and one before), and with tracemalloc on the
    top growth from round ``MEMORY_BASELINE_ROUND`` to the end; samples' seconds count from
    ``started``."""
    baseline_round = int(os.environ.get("MEMORY_BASELINE_ROUND", "2"))
    baseline: tracemalloc.Snapshot | None = None
    events = 0
    samples = [sample(started, round_no=0, events=0)]
    show(samples[-1], 0, 0)
    for round_no in range(1, rounds + 1):
        events += await apply_round(resources, orders_of(round_no, per_round, stamp), run, pii)
        samples.append(sample(started, round_no=round_no, events=events))
        show(samples[-1], round_no, events)
        if round_no == baseline_round and tracemalloc.is_tracing():
            baseline = tracemalloc.take_snapshot()
    top = []
    if baseline is not None:
        top = growth(baseline, tracemalloc.take_snapshot(), 15)
    return samples, top


async def apply_round(resources: Any, orders: list[IncomingOrder], run: int, pii: PIICipher) -> int:
    """``order.created`` then ``order.updated`` of ``orders``, built and applied a run at a time
    (as a fetch brings them); the number of events."""
    events = 0
    for version in (1, 2):
        for i in range(0, len(orders), run):
            messages = consumers.events(orders[i : i + run], version, pii)
            async with resources.sessions() as session, session.begin():
                await resources.applier.apply_many(session, messages)
            events += len(messages)
    return events


def cyclic_garbage(top: int = 15) -> Garbage:
    """What a full collection finds unreachable now (objects only the cyclic garbage collector
    frees: reference cycles) by type, with the untracked objects (str, bytes, numbers) they
    alone hold counted under them (``kib``); then frees it."""
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        gc.collect()
        found = list(gc.garbage)
        gc.garbage.clear()
    finally:
        gc.set_debug(0)
    seen = {id(obj) for obj in found}
    by_type: dict[str, list[int]] = {}
    for obj in found:
        name = f"{type(obj).__module__}.{type(obj).__qualname__}"
        entry = by_type.setdefault(name, [0, 0])
        entry[0] += 1
        entry[1] += sys.getsizeof(obj)
        for ref in gc.get_referents(obj):
            if not gc.is_tracked(ref) and id(ref) not in seen:
                seen.add(id(ref))
                entry[1] += sys.getsizeof(ref)
    del found
    gc.collect()
    ranked = sorted(by_type.items(), key=lambda kv: -kv[1][1])
    return Garbage(
        objects=sum(n for n, _ in by_type.values()),
        kib=round(sum(b for _, b in by_type.values()) / 1024, 1),
        top=[GarbageType(type=k, objects=n, kib=round(b / 1024, 1)) for k, (n, b) in ranked[:top]],
    )


@dataclass(frozen=True)
class Growth:
    """Growth from the baseline round to the end, per figure, in MiB (None: not measured)."""

    from_round: int
    to_round: int
    events: int
    rss_mib: float | None
    traced_mib: float | None
    pymalloc_arenas_mib: float | None
    pymalloc_in_use_mib: float | None
    glibc_heap_mib: float | None
    glibc_free_mib: float | None
    gc_objects: float | None


def summary(samples: list[Sample], baseline_round: int) -> Growth:
    """Growth from the baseline round to the end, per figure, in MiB."""
    first = next(s for s in samples if s.round == baseline_round)
    last = samples[-1]

    def delta(get: Callable[[Sample], float | None]) -> float | None:
        a, b = get(first), get(last)
        return None if a is None or b is None else round(b - a, 1)

    return Growth(
        from_round=baseline_round,
        to_round=last.round or 0,
        events=(last.events or 0) - (first.events or 0),
        rss_mib=delta(lambda s: s.rss_mib),
        traced_mib=delta(lambda s: s.traced_mib),
        pymalloc_arenas_mib=delta(lambda s: s.pymalloc_mib["arenas"]),
        pymalloc_in_use_mib=delta(lambda s: s.pymalloc_mib["in_use"]),
        glibc_heap_mib=delta(lambda s: s.glibc_mib["heap"]),
        glibc_free_mib=delta(lambda s: s.glibc_mib["free"]),
        gc_objects=delta(lambda s: s.gc_objects),
    )


@dataclass(frozen=True)
class ApplyReport:
    """``python -m bench.memory``'s document."""

    machine: Machine
    service: str
    rounds: int
    orders_per_round: int
    run_size: int
    malloc_arena_max: str | None
    tracemalloc: bool
    growth: Growth
    applied: Applied = field(metadata=FLATTEN)
    benchmark: str = "memory"


async def run() -> ApplyReport:
    service = os.environ.get("MEMORY_SERVICE", "fulfillment")
    rounds = int(os.environ.get("MEMORY_ROUNDS", "24"))
    per_round = int(os.environ.get("MEMORY_ORDERS", "5000"))
    run_size = int(os.environ.get("BENCH_RUN", "500"))
    frames = int(os.environ.get("MEMORY_FRAMES", "12"))
    baseline_round = min(int(os.environ.get("MEMORY_BASELINE_ROUND", "2")), rounds)
    trace = os.environ.get("MEMORY_TRACE", "1") == "1"
    was_running = INFRA.postgres.is_running()
    INFRA.postgres.start()
    print(
        f"{service}: {rounds} rounds of {per_round} orders (created + updated), runs of "
        f"{run_size}; MALLOC_ARENA_MAX={os.environ.get('MALLOC_ARENA_MAX', 'unset')}; "
        f"tracemalloc {'on' if trace else 'off'}; figures in MiB",
        flush=True,
    )
    try:
        result = await apply_rounds(
            service, rounds, per_round, run_size, trace=trace, frames=frames
        )
    finally:
        if not was_running:
            INFRA.postgres.stop()
    return ApplyReport(
        machine=machine(),
        service=service,
        rounds=rounds,
        orders_per_round=per_round,
        run_size=run_size,
        malloc_arena_max=os.environ.get("MALLOC_ARENA_MAX"),
        tracemalloc=trace,
        growth=summary(result.samples, baseline_round),
        applied=result,
    )


# ---- the whole process under load ---------------------------------------------------------


def inside(out: Path) -> None:
    """``python -m bench.memory inside DIR``: ``python -m <MEMORY_SERVICE> all`` with a thread
    that appends a ``sample`` (with the collector's pauses) to ``DIR/samples.jsonl`` every
    ``MEMORY_SAMPLE_SECONDS`` (10). ``MEMORY_TRACE_AFTER`` (30) seconds in, start-up is taken
    to be over: the pauses count from there, and with ``MEMORY_TRACE=1`` tracemalloc starts
    (only what the running service allocates is traced) and a snapshot is dumped every
    ``MEMORY_SNAPSHOT_SECONDS`` (120). ``DIR/census`` asks for the census (``_census``),
    ``DIR/trim`` for ``malloc_trim(0)``."""
    service = os.environ.get("MEMORY_SERVICE", "fulfillment")
    gc.callbacks.append(_time_collections)
    threading.Thread(target=_recorder, args=(out,), daemon=True).start()
    sys.argv = [service, "all"]
    runpy.run_module(service, run_name="__main__", alter_sys=True)


_PAUSES: dict[str, float] = {"collections": 0, "total_ms": 0.0, "max_ms": 0.0, "started": 0.0}


def _time_collections(phase: str, info: dict[str, int]) -> None:
    """A ``gc.callbacks`` entry: how many collections, how long they paused the process."""
    if phase == "start":
        _PAUSES["started"] = time.perf_counter()
        return
    took = (time.perf_counter() - _PAUSES["started"]) * 1000
    _PAUSES["collections"] += 1
    _PAUSES["total_ms"] += took
    _PAUSES["max_ms"] = max(_PAUSES["max_ms"], took)


def _recorder(out: Path) -> None:
    every = float(os.environ.get("MEMORY_SAMPLE_SECONDS", "10"))
    trace_after = float(os.environ.get("MEMORY_TRACE_AFTER", "30"))
    snapshot_every = float(os.environ.get("MEMORY_SNAPSHOT_SECONDS", "120"))
    trace = os.environ.get("MEMORY_TRACE", "0") == "1"
    frames = int(os.environ.get("MEMORY_FRAMES", "12"))
    started, next_snapshot, steady = time.perf_counter(), trace_after, False
    with (out / "samples.jsonl").open("a") as samples:
        while True:
            time.sleep(every)
            now = time.perf_counter() - started
            if now >= trace_after and not steady:  # start-up is over
                steady = True
                _PAUSES.update(collections=0, total_ms=0.0, max_ms=0.0)
                if trace:
                    tracemalloc.start(frames)
            if (out / "census").exists() and not (out / "census.json").exists():
                (out / "census.json").write_text(json.dumps(jsonable(_census(out))))
            trimmed = (out / "trim").exists() and not (out / "trimmed").exists()
            if trimmed:
                (out / "trimmed").touch()
                _LIBC.malloc_trim(0)
            pauses = {k: round(v, 2) for k, v in _PAUSES.items() if k != "started"}
            found = sample(started, trimmed=trimmed, gc_pauses=pauses)
            samples.write(json.dumps(jsonable(found)) + "\n")
            samples.flush()
            if tracemalloc.is_tracing() and now >= next_snapshot:
                tracemalloc.take_snapshot().dump(str(out / f"snapshot-{int(now):05d}.bin"))
                next_snapshot += snapshot_every


@dataclass(frozen=True)
class Census:
    """The service's cyclic garbage: what the collector held, and what some seconds of work
    made with it off."""

    held: Garbage
    made: Garbage

    @classmethod
    def from_json(cls, found: Json) -> Census:
        return cls(held=Garbage.from_json(found["held"]), made=Garbage.from_json(found["made"]))


def _census(out: Path) -> Census:
    """The service's cyclic garbage: ``held``, what the collector has let pile up so far (a
    full collection now frees it); ``made``, what ``MEMORY_CENSUS_SECONDS`` (30) of its work
    makes, with the collector off meanwhile."""
    seconds = float(os.environ.get("MEMORY_CENSUS_SECONDS", "30"))
    held = cyclic_garbage(25)
    gc.disable()
    try:
        time.sleep(seconds)
        return Census(held=held, made=replace(cyclic_garbage(25), seconds=seconds))
    finally:
        gc.enable()


@dataclass(frozen=True)
class SnapshotGrowth:
    """An allocation site's growth between two of the service's tracemalloc snapshots."""

    from_snapshot: str = field(metadata=key("from"))
    to_snapshot: str = field(metadata=key("to"))
    growth: AllocationGrowth = field(metadata=FLATTEN)


@dataclass(frozen=True)
class SoakReport:
    """``python -m bench.memory soak``'s document."""

    machine: Machine
    service: str
    rate: float
    seconds: float
    accepted: int
    applied: int
    malloc_arena_max: str | None
    tracemalloc: bool
    rss: dict[str, RssTrend]  # by process, from outside
    inside: list[Sample]  # the service's own samples
    top_growth: list[SnapshotGrowth]
    census_at_s: float
    garbage: Census
    benchmark: str = "memory-soak"


@dataclass(frozen=True)
class SoakLoad:
    """What the soak's load did: orders accepted, orders in the service's store after it, and
    when the census was asked for (seconds in)."""

    accepted: int
    applied: int
    census_at_s: float


async def soak() -> SoakReport:
    """Ingest and the service (``inside``) as ``python -m <svc> all`` on fresh databases, the
    load generator posting ``MEMORY_SOAK_RATE`` (500) orders/s for ``MEMORY_SOAK_SECONDS``
    (600) in batches of ``MEMORY_SOAK_BATCH`` (500)."""
    service = os.environ.get("MEMORY_SERVICE", "fulfillment")
    rate = float(os.environ.get("MEMORY_SOAK_RATE", "500"))
    seconds = float(os.environ.get("MEMORY_SOAK_SECONDS", "600"))
    INFRA.start()
    cluster = Cluster(INFRA, f"memory{int(time.time())}")
    cluster.create()
    out = cluster.log_dir / "memory"
    out.mkdir(parents=True, exist_ok=True)
    watch = MemoryWatch(cluster)
    try:
        cluster.start("ingest", "all")
        _start_inside(cluster, service, out)
        cluster.wait_ready("ingest")
        cluster.wait_ready(service)
        await asyncio.sleep(3)  # the consumer joins its group
        load = await _soak_load(cluster, service, out, watch, rate, seconds)
    finally:
        cluster.stop_all()
    inner = [json.loads(line) for line in (out / "samples.jsonl").read_text().splitlines()]
    return SoakReport(
        machine=machine(),
        service=service,
        rate=rate,
        seconds=seconds,
        accepted=load.accepted,
        applied=load.applied,
        malloc_arena_max=os.environ.get("MALLOC_ARENA_MAX"),
        tracemalloc=os.environ.get("MEMORY_TRACE", "0") == "1",
        rss=watch.trend(),
        inside=[Sample.from_json(found) for found in inner],
        top_growth=_snapshot_growth(out),
        census_at_s=load.census_at_s,
        garbage=Census.from_json(json.loads((out / "census.json").read_text())),
    )


async def _soak_load(
    cluster: Cluster, service: str, out: Path, watch: MemoryWatch, rate: float, seconds: float
) -> SoakLoad:
    """The load, RSS sampled from outside every 5 s, the census asked for at
    ``MEMORY_CENSUS_AT``; then the wait for the store, and ``malloc_trim`` asked for (and
    sampled) at the end."""
    spec = LoadSpec(
        url=cluster.ingest_url,
        api_key=API_KEY,
        orders=int(rate * seconds),
        id_prefix=f"{int(time.time()) % 10_000_000:07d}",
        rate=rate,
        batch_size=int(os.environ.get("MEMORY_SOAK_BATCH", "500")),
        in_flight=2,
    )
    load = LoadProcess(spec, cluster.log_dir)
    census_s = float(os.environ.get("MEMORY_CENSUS_AT", seconds * 0.7))
    census_at = time.monotonic() + census_s
    while load.running():
        watch.sample()
        if time.monotonic() > census_at:
            (out / "census").touch()
        await asyncio.sleep(5)
    result = await load.wait()
    applied = await _until_applied(cluster, service, len(result.accepted))
    watch.sample()
    (out / "trim").touch()
    await asyncio.sleep(2 * float(os.environ.get("MEMORY_SAMPLE_SECONDS", "10")) + 1)
    return SoakLoad(accepted=len(result.accepted), applied=applied, census_at_s=census_s)


def _start_inside(cluster: Cluster, service: str, out: Path) -> None:
    log = cluster.log_dir / f"{service}-all.log"
    with log.open("ab") as sink:
        popen = subprocess.Popen(
            [sys.executable, "-m", "bench.memory", "inside", str(out)],
            env={**cluster.env(service), "MEMORY_SERVICE": service},
            stdout=sink,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
        )
    cluster.procs[(service, "all", 0)] = Proc(service, "all", 0, popen, log)


async def _until_applied(cluster: Cluster, service: str, expected: int) -> int:
    conn = await connect(cluster.dsn(service))
    try:
        deadline = time.monotonic() + 300
        while True:
            count = int(await conn.fetchval("SELECT count(*) FROM orders"))
            if count >= expected or time.monotonic() > deadline:
                return count
            await asyncio.sleep(1)
    finally:
        await conn.close()


def _snapshot_growth(out: Path) -> list[SnapshotGrowth]:
    """Top growth between the snapshot ``MEMORY_BASELINE_SECONDS`` (150) in and the last."""
    snapshots = sorted(out.glob("snapshot-*.bin"))
    if len(snapshots) < 2:
        return []
    at = float(os.environ.get("MEMORY_BASELINE_SECONDS", "150"))
    first = next((p for p in snapshots if int(p.stem.split("-")[1]) >= at), snapshots[0])
    if first == snapshots[-1]:
        first = snapshots[0]
    load = tracemalloc.Snapshot.load
    return [
        SnapshotGrowth(from_snapshot=first.name, to_snapshot=snapshots[-1].name, growth=stat)
        for stat in growth(load(str(first)), load(str(snapshots[-1])), 15)
    ]


def show_soak(report: SoakReport) -> None:
    print(
        f"{report.service} under {report.rate:g} orders/s for {report.seconds:g} s: "
        f"{report.accepted} accepted, {report.applied} applied; MALLOC_ARENA_MAX="
        f"{report.malloc_arena_max or 'unset'}; tracemalloc "
        f"{'on' if report.tracemalloc else 'off'}; figures in MiB"
    )
    for name, trend in report.rss.items():
        print(
            f"  {name} RSS by minute: {trend.per_minute_mib}, second half "
            f"{trend.second_half_mib_per_min} MiB/min"
        )
    _show_inside(report.inside)
    _show_top([g.growth for g in report.top_growth])
    print(f"held by the collector at the census ({report.census_at_s:g} s in):", end=" ")
    _show_garbage(report.garbage.held)
    print("made meanwhile:", end=" ")
    _show_garbage(report.garbage.made)


def _show_inside(inside: list[Sample]) -> None:
    """The service's last sample of each minute, those after ``malloc_trim``, and its
    collector's pauses."""
    minutes: dict[int, Sample] = {}
    for s in inside:
        if not s.trimmed:
            minutes[int(s.seconds // 60)] = s
    print("  inside the service, the last sample of each minute (and after malloc_trim):")
    for s in [*minutes.values(), *(s for s in inside if s.trimmed)]:
        show(s, "trim" if s.trimmed else int(s.seconds // 60), 0)
    pauses = inside[-1].gc_pauses
    if pauses:
        print(
            f"  the collector: {pauses['collections']:g} collections, {pauses['total_ms']} ms "
            f"in all, the longest {pauses['max_ms']} ms"
        )


def _show_garbage(garbage: Garbage) -> None:
    of = f" of {garbage.events} events" if garbage.events is not None else ""
    of = f" of {garbage.seconds:g} s" if garbage.seconds is not None else of
    print(
        f"cyclic garbage{of}: {garbage.objects} objects, {garbage.kib} KiB "
        "(with the str/bytes they hold), by type:"
    )
    for entry in garbage.top:
        print(f"  {entry.objects:>8} {entry.kib:>9} KiB  {entry.type}")


def _show_top(top: list[AllocationGrowth]) -> None:
    if top:
        print("top growth by traceback (most recent call last):")
        for stat in top:
            print(f"  +{stat.kib} KiB in {stat.blocks} blocks")
            for frame in stat.traceback[-6:]:
                print(f"      {frame}")


def main() -> None:
    mode = sys.argv[1] if len(sys.argv) > 1 else "apply"
    if mode == "inside":
        inside(Path(sys.argv[2]))
        return
    if mode == "soak":
        soaked = asyncio.run(soak())
        show_soak(soaked)
        print(save("memory-soak", soaked))
        return
    report = asyncio.run(run())
    g = report.growth
    print(
        f"growth from round {g.from_round} to {g.to_round} ({g.events} events), MiB: "
        f"rss {g.rss_mib}, traced {g.traced_mib}, pymalloc arenas "
        f"{g.pymalloc_arenas_mib} (in use {g.pymalloc_in_use_mib}), glibc heap "
        f"{g.glibc_heap_mib} (free {g.glibc_free_mib}), gc objects {g.gc_objects}"
    )
    t = report.applied.malloc_trim
    print(f"malloc_trim(0): rss {t.rss_before_mib} -> {t.rss_after_mib} MiB")
    _show_garbage(report.applied.garbage)
    _show_top(report.applied.top_growth)
    print(save("memory", report))


if __name__ == "__main__":
    main()
