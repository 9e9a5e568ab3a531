"""``make bench``: the whole platform's throughput and latency, and the limit it runs against.

On a private Kafka and PostgreSQL (``.run/bench/``), the four services run as ``python -m <svc>
all`` (as ``make up`` runs them; ``BENCH_LAYOUT=roles`` runs each role, ``api``, ``worker`` and
``relay``, in a process of its own, as ``deploy/k8s`` does) on fresh databases and a fresh
topic prefix. A load generator in its own process posts orders:

- end to end: ``BENCH_ORDERS`` orders (default 100000) in batches of ``BENCH_BATCH`` (500),
  ``BENCH_IN_FLIGHT`` (2) requests at a time, at full speed (a backfill), then at each rate of
  ``BENCH_RATES`` (orders/s, default ``500,1000,2000``) for at most ``BENCH_RATE_SECONDS`` (60)
  worth of orders, in batches of ``BENCH_RATE_BATCH`` (100: steady intake comes from SP-API's
  getOrders, whose pages hold at most 100 orders; ``1000:500`` in ``BENCH_RATES`` gives one
  rate its own batch size). Figures: orders/s accepted by ingest,
  orders/s applied by all three consumers (every store holds every order), and latency from
  acceptance (the batch's answer reaching the client) to visibility in fulfillment's ``orders``
  table, for a sample of 250 orders polled every 25 ms; also from fulfillment's ``created_at``
  (the applying transaction's start) for every order, and from ingest's ``received_at`` (the
  start of the accepting transaction, before any client-side queueing of the answer).
- each rate run ``BENCH_REPEAT`` times (3), with the median and range of its visibility
  percentiles, applied orders/s and CPU per order (``repeated``): one run's p99 at 1,000/s
  ranged from 201 to 349 ms in five runs of one build.
- single orders: ``POST /v1/orders`` at each rate of ``BENCH_SINGLE_RATES`` (100,200,400)
  for ``BENCH_SINGLE_SECONDS`` (20): requests/s and latency percentiles.
- the limit: the same payloads through a bare aiokafka producer and consumer and a bare asyncpg
  COPY / executemany, and both at once along the platform's data path (an intake process
  writing and producing, three store processes consuming and writing: the Kafka-plus-PostgreSQL
  work every order costs, with no service code) (``bench.limits``); the platform's figures as a
  ratio of these.
- soak: ``BENCH_SOAK_RATE`` orders/s (500) for ``BENCH_SOAK_SECONDS`` (600; 0 skips it), in
  batches of ``BENCH_RATE_BATCH``,
  with every service's RSS minute by minute and its growth over the second half (MiB/min).
- the machine's own speed before each run (a fixed piece of pure-Python work, in ms) and
  the CPU time the hypervisor stole during it: a whole run can be a third slower in every
  process alike on a shared host.
- a warm-up, not reported: rounds of ``BENCH_WARMUP`` orders (10000; 0 skips it) at full
  speed and half as many at 1,000/s, until the broker's JIT has settled (``warm_up``); each
  run reports the JIT's CPU.
- every run starts from a checkpoint (``BENCH_CHECKPOINT=0`` skips it): with about 10 KB of
  WAL an order, PostgreSQL starts one every 2 GB of WAL, and whether it landed inside a
  60-second run or not was chance, and much of the spread between two runs of the bench.
- ``timeline``, for every end-to-end run (``bench.timeline``): orders/s published and applied
  by each consumer and cores per process, in four stretches of the run and while the load ran
  (what a sustained load gets; the run's average also counts the drain after it).
- ``background``, for every run: what PostgreSQL did meanwhile (checkpoints, buffers written by
  whom, WAL, autovacuum per table, the top statements, other databases' work) and the broker's
  GC pauses (``bench.activity``): why two runs of the same bench differ.
- RSS of every service process (start, middle, end, peak), and with py-spy installed
  (``uv tool install py-spy``; ``BENCH_PROFILE=0`` skips it) a profile of ingest and
  fulfillment during the full-speed run.
- ``targets``: each of the issue's targets (2,200 orders/s sustained, p99 under 250 ms at
  1,000/s, half the bare pipeline, flat memory) against this run's figure, met or not (or not
  measured), with the CPU per order it was measured at.

Prints a short summary, then the JSON document (also saved under ``bench/results/``) as the
last line. Figures only: nothing here fails because the machine is slow.
"""

from __future__ import annotations

import asyncio
import math
import os
import subprocess
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol, TypeVar

from bench import activity, profile, timeline
from bench.cluster import (
    API_KEY,
    LAYOUTS,
    Cluster,
    Infra,
    MemoryWatch,
    cpu_seconds,
    jit_seconds,
    kafka_pid,
)
from bench.common import (
    Machine,
    Percentiles,
    connect,
    machine,
    percentiles,
    save,
    speed_probe_ms,
    spread,
    steal_seconds,
)
from bench.limits import kafka_limit, pipeline_limit, postgres_limit
from bench.loadgen import LoadProcess, LoadResult, LoadSpec, order_ids
from bench.report import FLATTEN, OMIT, jsonable
from bench.runs import (
    FULL_SPEED,
    CpuUsed,
    EndToEndRun,
    Hops,
    Latency,
    MachineProbe,
    Repeated,
    SingleRun,
    SoakRun,
    Throughput,
    Visibility,
    WarmUp,
)
from bench.stores import Completion, wait_complete
from bench.targets import Limits, Ratios, Targets, ratios, targets, targets_line
from bench.timeline import Timeline

# BENCH_KAFKA_PORT (the controller's is the next) and BENCH_POSTGRES_PORT move the private
# servers off ports another checkout's servers hold.
_KAFKA_PORT = int(os.environ.get("BENCH_KAFKA_PORT", "29092"))
INFRA = Infra(
    "bench",
    kafka_port=_KAFKA_PORT,
    controller_port=_KAFKA_PORT + 1,
    postgres_port=int(os.environ.get("BENCH_POSTGRES_PORT", "25432")),
)
# Visibility is polled for a sample of orders: 1,000 ids every 20 ms was half of PostgreSQL's
# work in the run (pg_stat_statements), so the probe itself slowed what it measured.
SAMPLED = 250
POLL_S = 0.025


def _env_list(name: str, default: str) -> list[float]:
    return [float(x) for x in os.environ.get(name, default).split(",") if x.strip()]


def _rates(default_batch: int) -> list[tuple[float, int]]:
    """``BENCH_RATES``: ``rate`` or ``rate:batch`` entries, comma-separated."""
    out = []
    for entry in os.environ.get("BENCH_RATES", "500,1000,2000").split(","):
        if entry.strip():
            rate, _, batch = entry.partition(":")
            out.append((float(rate), int(batch or default_batch)))
    return out


def _in_flight(rate: float, batch: int) -> int:
    """Requests the load generator may have open at once: ``BENCH_IN_FLIGHT`` if set, else 2
    at full speed (which sets the offered load) and, at a fixed rate, enough for half a
    second of requests. The generator sends on schedule and this only caps it: with 2 open
    and 100-order requests taking about 110 ms, a 2,000/s run could offer 1,800/s at most, and
    a request held back waited unmeasured (coordinated omission)."""
    if "BENCH_IN_FLIGHT" in os.environ:
        return int(os.environ["BENCH_IN_FLIGHT"])
    return max(2, math.ceil(rate / batch * 0.5)) if rate else 2


async def checkpoint(cluster: Cluster) -> None:
    """Start the run from a checkpoint, as database benchmarks do, so that one landing inside
    a short run (and the full-page images after it) is not chance."""
    if os.environ.get("BENCH_CHECKPOINT", "1") == "0":
        return
    conn = await connect(cluster.dsn("ingest"))
    try:
        await conn.execute("CHECKPOINT")
    finally:
        await conn.close()


class Bench:
    def __init__(self, cluster: Cluster) -> None:
        self.cluster = cluster
        self.memory = MemoryWatch(cluster)
        self.total = 0  # orders posted so far (every run adds to the same stores)
        self.runs = 0

    def _prefix(self) -> str:
        self.runs += 1
        return f"{int(time.time()) % 10_000:04d}{self.runs:03d}"

    async def _watch_memory(self, until: Callable[[], bool], *watches: MemoryWatch) -> None:
        while not until():
            for watch in (self.memory, *watches):
                watch.sample()
            await asyncio.sleep(1.0)

    def _batches(self, prefix: str, n: int, rate: float, batch: int) -> LoadSpec:
        return LoadSpec(
            url=self.cluster.ingest_url,
            api_key=API_KEY,
            orders=n,
            id_prefix=prefix,
            mode="batch",
            batch_size=batch,
            rate=rate,
            in_flight=_in_flight(rate, batch),
        )

    async def end_to_end(
        self,
        n: int,
        rate: float,
        batch: int,
        *,
        profile_s: int = 0,
        memory: MemoryWatch | None = None,
    ) -> EndToEndRun:
        prefix = self._prefix()
        sample, due = _visibility_sample(order_ids(prefix, n), rate)
        await checkpoint(self.cluster)
        background = activity.Activity(self.cluster)
        await background.start()
        progress = Timeline(self.cluster)
        usage = Usage(self.cluster)
        load = LoadProcess(self._batches(prefix, n, rate, batch), self.cluster.log_dir)
        await progress.start()
        self.total += n
        profiles = self._start_profiles(profile_s) if profile_s else {}
        seen: dict[str, float] = {}
        sampler = asyncio.create_task(self._sample_visibility(sample, due, seen))
        extra = (memory,) if memory else ()
        watcher = asyncio.create_task(self._watch_memory(sampler.done, *extra))
        result = await load.wait()
        progress.load_ended()
        done = await wait_complete(self.cluster, self.total, timeout=max(300.0, n / 20))
        over_time = await progress.stop()
        cpu = usage.used(n)
        background_report = await background.stop(n)
        sampler.cancel()
        await asyncio.gather(sampler, watcher, return_exceptions=True)
        return EndToEndRun(
            orders=n,
            target_rate=rate or FULL_SPEED,
            batch_size=batch,
            throughput=_throughput(result, done),
            latency=await self._latency(prefix, sample, seen, result.accepted),
            cpu=cpu,
            background=background_report,
            timeline=over_time,
            profile=_summarize_profiles(profiles),
        )

    async def _latency(
        self, prefix: str, sample: list[str], seen: dict[str, float], accepted: dict[str, float]
    ) -> Latency:
        """From acceptance (and from the stores' own timestamps) to visibility: the sampled
        orders ``seen`` by the probe, and every order by fulfillment's ``created_at``."""
        created = await self._times(prefix, "fulfillment", "created_at")
        received = await self._times(prefix, "ingest", "received_at")
        relayed = await self._relayed(prefix)
        visible = [seen[i] - accepted[i] for i in sample if i in seen and i in accepted]
        return Latency(
            visible_in_fulfillment=Visibility(
                sampled=len(visible), percentiles=percentiles(visible)
            ),
            visible_from_ingest_received_at=percentiles(
                [seen[i] - received[i] for i in sample if i in seen and i in received]
            ),
            fulfillment_created_at=percentiles(
                [created[i] - accepted[i] for i in accepted if i in created]
            ),
            hops=_hops(received, relayed, created, {i: seen[i] for i in sample if i in seen}),
        )

    def _start_profiles(self, seconds: int) -> dict[str, Profiling]:
        """py-spy on ingest's API and fulfillment's consumer (the ``all`` process of each in
        the one-process layout)."""
        started = {}
        for service, role in (("ingest", "api"), ("fulfillment", "worker")):
            proc = (
                self.cluster.procs.get((service, role, 0))
                or self.cluster.procs[(service, "all", 0)]
            )
            raw = self.cluster.log_dir / f"profile-{service}.txt"
            started[service] = (profile.record(proc.pid, seconds, raw), raw)
        return started

    async def _sample_visibility(
        self, sample: list[str], due: list[float], seen: dict[str, float]
    ) -> None:
        """Poll for the sampled orders every ``POLL_S``, each from ``due`` seconds (when it is
        to be posted) after the start, until all are seen."""
        conn = await connect(self.cluster.dsn("fulfillment"))
        started = time.monotonic()
        try:
            pending = list(zip(sample, due, strict=True))
            while pending:
                elapsed = time.monotonic() - started
                polled = [i for i, at in pending if at <= elapsed + 1.0]
                rows = await conn.fetch(
                    "SELECT amazon_order_id FROM orders WHERE amazon_order_id = ANY($1::text[])",
                    polled,
                )
                now = time.time()
                for row in rows:
                    seen[row[0]] = now
                pending = [(i, at) for i, at in pending if i not in seen]
                await asyncio.sleep(POLL_S)
        finally:
            await conn.close()

    async def _times(self, prefix: str, service: str, column: str) -> dict[str, float]:
        """``column`` (a timestamp of the ``orders`` table of ``service``) of this run's orders."""
        return await self._epochs(prefix, service, "orders", "amazon_order_id", column)

    async def _relayed(self, prefix: str) -> dict[str, float]:
        """When the relay picked up each of this run's ``order.created`` events (its outbox
        row's ``sent_at``: the start of the relay's transaction, before it produced them)."""
        return await self._epochs(
            prefix, "ingest", "outbox", "message_key", "sent_at", "event_type = 'order.created'"
        )

    async def _epochs(
        self, prefix: str, service: str, table: str, key: str, column: str, where: str = "TRUE"
    ) -> dict[str, float]:
        """Timestamp ``column`` of ``table`` in ``service``'s database for this run's orders
        (``key`` holds the order id), as epoch seconds by order id; nulls are left out."""
        conn = await connect(self.cluster.dsn(service))
        try:
            rows = await conn.fetch(
                f"SELECT {key}, {column} FROM {table} WHERE {where} AND {key} LIKE $1",
                f"%-{prefix}-%",
            )
            return {r[0]: r[1].timestamp() for r in rows if r[1] is not None}
        finally:
            await conn.close()

    async def soak(self, rate: float, seconds: float, batch: int) -> SoakRun:
        """A fixed rate for ``seconds``: each process's RSS minute by minute, and its growth
        over the second half (after warm-up) in MiB per minute."""
        watch = MemoryWatch(self.cluster)
        run = await self.end_to_end(int(rate * seconds), rate, batch, memory=watch)
        return SoakRun(run=run, memory=watch.trend())

    async def singles(self, rate: float, seconds: float) -> SingleRun:
        prefix = self._prefix()
        n = max(100, int(rate * seconds))
        spec = LoadSpec(
            url=self.cluster.ingest_url,
            api_key=API_KEY,
            orders=n,
            id_prefix=prefix,
            mode="single",
            rate=rate,
            in_flight=32,
        )
        self.total += n
        await checkpoint(self.cluster)
        background = activity.Activity(self.cluster)
        await background.start()
        usage = Usage(self.cluster)
        load = LoadProcess(spec, self.cluster.log_dir)
        result = await load.wait()
        elapsed = result.finished - result.started
        await wait_complete(self.cluster, self.total, timeout=max(300.0, n / 20))
        return SingleRun(
            orders=n,
            target_rate=rate,
            requests_per_s=round(len(result.accepted) / elapsed, 1),
            statuses=dict(result.statuses),
            latency=percentiles(result.request_latencies),
            cpu=usage.used(n),
            background=await background.stop(n),
        )


# A py-spy recording under way (None: py-spy unavailable) and the file it writes.
Profiling = tuple[subprocess.Popen[bytes] | None, Path]


def _summarize_profiles(profiles: dict[str, Profiling]) -> dict[str, profile.Profile] | None:
    """Each finished recording's summary by service; None when nothing was recorded."""
    out = {}
    for name, (proc, raw) in profiles.items():
        if proc is not None:
            proc.wait()
            out[name] = profile.summarize(raw)
    return out or None


def _visibility_sample(ids: list[str], rate: float) -> tuple[list[str], list[float]]:
    """The orders whose visibility is polled, and when each is due to be posted (rate runs):
    polling an order long before it is sent only adds to the database's work."""
    step = max(1, len(ids) // SAMPLED)
    sample = ids[::step]
    return sample, [i * step / rate if rate else 0.0 for i in range(len(sample))]


def _throughput(result: LoadResult, done: Completion) -> Throughput:
    """Orders/s accepted by ingest and applied by all three stores (every store holds every
    order), from when the load generator started."""
    elapsed = result.finished - result.started
    applied_s = (done.done_at - result.started) if done.done_at else None
    accepted = len(result.accepted)
    return Throughput(
        accepted=accepted,
        accepted_per_s=round(accepted / elapsed, 1),
        applied_per_s=round(accepted / applied_s, 1) if applied_s else None,
        seconds_to_all_applied=round(applied_s, 2) if applied_s else None,
        store_done_after_s={s: round(t - result.started, 2) for s, t in done.store_done.items()},
        statuses=dict(result.statuses),
        batch_request_latency=percentiles(result.request_latencies),
    )


@dataclass(frozen=True)
class Plan:
    """What one ``make bench`` runs, from the environment (the module docstring has each
    variable)."""

    orders: int  # BENCH_ORDERS: the full-speed run, and the cap of each rate run
    batch: int  # BENCH_BATCH: the full-speed run's batch size
    rate_batch: int  # BENCH_RATE_BATCH: rate runs', the warm-up's paced half's and the soak's
    rates: list[tuple[float, int]]  # BENCH_RATES: (orders/s, batch size)
    rate_seconds: float  # BENCH_RATE_SECONDS
    repeat: int  # BENCH_REPEAT: runs of each rate
    single_rates: list[float]  # BENCH_SINGLE_RATES
    single_seconds: float  # BENCH_SINGLE_SECONDS
    profile_seconds: int  # BENCH_PROFILE_SECONDS; 0 with BENCH_PROFILE=0
    soak_rate: float  # BENCH_SOAK_RATE
    soak_seconds: float  # BENCH_SOAK_SECONDS; 0 skips the soak
    warmup: int  # BENCH_WARMUP: full-speed orders a warm-up round; 0 skips the warm-up
    layout: str  # BENCH_LAYOUT: "all" (a process per service) or "roles" (bench.cluster.LAYOUTS)

    @classmethod
    def from_env(cls) -> Plan:
        env = os.environ
        rate_batch = int(env.get("BENCH_RATE_BATCH", "100"))
        layout = env.get("BENCH_LAYOUT", "all")
        if layout not in LAYOUTS:
            raise SystemExit(f"BENCH_LAYOUT={layout!r}: use one of {', '.join(LAYOUTS)}")
        return cls(
            orders=int(env.get("BENCH_ORDERS", "100000")),
            batch=int(env.get("BENCH_BATCH", "500")),
            rate_batch=rate_batch,
            rates=_rates(rate_batch),
            rate_seconds=float(env.get("BENCH_RATE_SECONDS", "60")),
            repeat=max(1, int(env.get("BENCH_REPEAT", "3"))),
            single_rates=_env_list("BENCH_SINGLE_RATES", "100,200,400"),
            single_seconds=float(env.get("BENCH_SINGLE_SECONDS", "20")),
            profile_seconds=(
                0
                if env.get("BENCH_PROFILE", "1") == "0"
                else int(env.get("BENCH_PROFILE_SECONDS", "30"))
            ),
            soak_rate=float(env.get("BENCH_SOAK_RATE", "500")),
            soak_seconds=float(env.get("BENCH_SOAK_SECONDS", "600")),
            warmup=int(env.get("BENCH_WARMUP", "10000")),
            layout=layout,
        )


LAYOUT_NAMES = {
    "all": "python -m <service> all, one process per service",
    "roles": "python -m <service> api|worker|relay, one process per role and service",
}


@dataclass(frozen=True)
class PlatformRuns:
    """What the platform's own runs measured, in the order they ran."""

    warm_up: WarmUp | None = field(metadata=OMIT)
    end_to_end: list[EndToEndRun]  # the full-speed run first, then each rate's
    single: list[SingleRun]
    soak: SoakRun | None = field(metadata=OMIT)
    memory: dict[str, dict[str, int | None]]  # RSS of every service process (MemoryWatch)


@dataclass(frozen=True)
class Report:
    """``make bench``'s document."""

    tag: str
    machine: Machine
    versions: dict[str, str]
    layout: str
    profiler: str | None
    runs: PlatformRuns = field(metadata=FLATTEN)
    repeated: list[Repeated]
    dead_processes: list[str]
    limit: Limits
    ratios: Ratios
    targets: Targets
    benchmark: str = "platform"


async def run() -> Report:
    plan = Plan.from_env()
    was_running = INFRA.is_running()
    try:
        INFRA.start()
        return await _run(plan)
    finally:
        if not was_running:  # leave the machine as we found it
            INFRA.stop()


async def _run(plan: Plan) -> Report:
    tag = f"bench{int(time.time())}"
    cluster = Cluster(INFRA, tag)
    cluster.create()
    found_machine, found_versions = machine(), versions()
    profiler = "py-spy" if plan.profile_seconds and profile.available() else None
    try:
        cluster.start_all(LAYOUTS[plan.layout])  # inside: one not ready stops the others
        await asyncio.sleep(3)  # the consumers join their groups
        runs = await platform_runs(Bench(cluster), plan)
        dead = cluster.dead()
    finally:
        cluster.stop_all()
    limit = await limits(tag, plan.orders, plan.batch)
    found_ratios = ratios(runs.end_to_end[0], limit)
    return Report(
        tag=tag,
        machine=found_machine,
        versions=found_versions,
        layout=LAYOUT_NAMES[plan.layout],
        profiler=profiler,
        runs=runs,
        repeated=repeated(runs.end_to_end[1:]),
        dead_processes=dead,
        limit=limit,
        ratios=found_ratios,
        targets=targets(runs.end_to_end, found_ratios, runs.soak.memory if runs.soak else None),
    )


async def platform_runs(bench: Bench, plan: Plan) -> PlatformRuns:
    """The warm-up, the full-speed run, each rate's runs, the single orders and the soak, on
    one cluster in turn."""
    step: Step = _timed
    warm = await warm_up(bench, plan.warmup, (plan.batch, plan.rate_batch), step)
    full = await step(
        f"end to end, {plan.orders} orders, full speed",
        bench.end_to_end(plan.orders, 0, plan.batch, profile_s=plan.profile_seconds),
    )
    at_rates = await rate_runs(bench, plan, step)
    single = [
        await step(f"single orders at {r:g}/s", bench.singles(r, plan.single_seconds))
        for r in plan.single_rates
    ]
    soak = None
    if plan.soak_rate and plan.soak_seconds:
        soak = await step(
            f"soak: {plan.soak_rate:g} orders/s for {plan.soak_seconds:g} s",
            bench.soak(plan.soak_rate, plan.soak_seconds, plan.rate_batch),
        )
    return PlatformRuns(
        warm_up=warm,
        end_to_end=[full, *at_rates],
        single=single,
        soak=soak,
        memory=bench.memory.report(),
    )


async def rate_runs(bench: Bench, plan: Plan, step: Step) -> list[EndToEndRun]:
    """Each rate of ``BENCH_RATES`` ``BENCH_REPEAT`` times, for at most ``BENCH_RATE_SECONDS``
    worth of orders (and no more than the full-speed run's)."""
    runs = []
    repeat = plan.repeat
    for rate, rate_batch in plan.rates:
        m = min(plan.orders, int(rate * plan.rate_seconds))
        for i in range(1, repeat + 1):
            runs.append(
                await step(
                    f"end to end, {m} orders at {rate:g}/s in batches of {rate_batch}"
                    + (f" ({i} of {repeat})" if repeat > 1 else ""),
                    bench.end_to_end(m, rate, rate_batch),
                )
            )
    return runs


async def limits(tag: str, n: int, batch: int) -> Limits:
    return Limits(
        kafka=await _timed("bare Kafka", kafka_limit(INFRA, tag, n)),
        postgres=await _timed("bare PostgreSQL", postgres_limit(INFRA, tag, n, batch)),
        pipeline=await _timed(
            "bare Kafka-plus-PostgreSQL pipeline", pipeline_limit(INFRA, tag, n, batch)
        ),
    )


# Warm-up rounds end when the broker's JIT compiled for less than JIT_SETTLED_S in a round, or
# after WARM_UP_ROUNDS. In a fresh broker, C1/C2 compiled for 4.7, 2.6, 2.3, 0.4 and 0.6 CPU-s
# in five rounds of 20,000 orders at 1,000/s: over half of Kafka's CPU in the first round, and
# the first round's visibility p99 was 603 ms against 160-250 ms in the later ones. Rounds at
# full speed alone left the paths of small batches cold: 3.8 s of JIT in the next 1,000/s run.
# It does not go to zero (0.7-0.9 CPU-s a round of 15,000 orders from the third round to the
# eighth), and every round grows the stores the measured runs then write to.
JIT_SETTLED_S = 1.0
WARM_UP_ROUNDS = 4
WARM_UP_RATE = 1000.0


async def warm_up(bench: Bench, orders: int, batches: tuple[int, int], step: Step) -> WarmUp | None:
    """Not reported: the first orders pay for the broker's JVM compiling its hot paths,
    connection pools filling, statements being prepared and planned. Rounds of ``orders`` at
    full speed in batches of ``batches[0]``, then half as many at ``WARM_UP_RATE`` in batches
    of ``batches[1]``, until the broker's JIT has settled (``JIT_SETTLED_S``). None when
    ``orders`` is 0: no warm-up."""
    if not orders:
        return None
    full, paced = batches
    jit = []
    for round_ in range(1, WARM_UP_ROUNDS + 1):
        label = f"warm-up round {round_}, {orders} + {orders // 2} orders (not reported)"
        runs = await step(
            label,
            _in_turn(
                bench.end_to_end(orders, 0, full),
                bench.end_to_end(orders // 2, WARM_UP_RATE, paced),
            ),
        )
        jit.append(round(sum(run.cpu.kafka_jit_seconds for run in runs), 2))
        if jit[-1] < JIT_SETTLED_S:
            break
    return WarmUp(orders_per_round=orders + orders // 2, rounds=len(jit), kafka_jit_seconds=jit)


async def _in_turn(*runs: Awaitable[EndToEndRun]) -> list[EndToEndRun]:
    return [await run for run in runs]


class Usage:
    """From its creation until ``used``: the CPU each process spent, the broker's JIT, and the
    machine's speed just before (a fixed piece of pure-Python work) and the CPU time the
    hypervisor stole meanwhile."""

    def __init__(self, cluster: Cluster) -> None:
        self.cluster = cluster
        self.speed = speed_probe_ms()
        self.steal = steal_seconds()
        self.cpu = cpu_seconds(cluster)
        self.jit = jit_seconds(kafka_pid(cluster.infra))

    def used(self, orders: int) -> CpuUsed:
        """CPU seconds each process spent on the run (from acceptance of the first order until
        every store holds the last), and per order in milliseconds: where the machine's time
        went."""
        after = cpu_seconds(self.cluster)
        spent = {k: round(after[k] - self.cpu.get(k, 0.0), 2) for k in sorted(after)}
        total = sum(spent.values())
        return CpuUsed(
            seconds=spent,
            total_seconds=round(total, 2),
            ms_per_order=round(1000 * total / orders, 3) if orders else None,
            note="the load generator's own CPU is not counted",
            kafka_jit_seconds=round(jit_seconds(kafka_pid(self.cluster.infra)) - self.jit, 2),
            machine=MachineProbe(
                speed_probe_ms=self.speed,
                steal_seconds=round(steal_seconds() - self.steal, 2),
            ),
        )


T = TypeVar("T")


class Step(Protocol):
    """Runs a piece of the bench under a label: ``_timed`` prints the label and how long it
    took."""

    def __call__(self, label: str, work: Awaitable[T], /) -> Awaitable[T]: ...


async def _timed(label: str, work: Awaitable[T]) -> T:
    started = time.perf_counter()
    print(f"... {label}", flush=True)
    result = await work
    print(f"    done in {time.perf_counter() - started:.1f}s", flush=True)
    return result


REPEATED_FIGURES: dict[str, Callable[[EndToEndRun], float | None]] = {
    "visible_p50_ms": lambda r: r.visible.p50_ms,
    "visible_p99_ms": lambda r: r.visible.p99_ms,
    "applied_per_s": lambda r: r.throughput.applied_per_s,
    "cpu_ms_per_order": lambda r: r.cpu.ms_per_order,
}


def repeated(runs: list[EndToEndRun]) -> list[Repeated]:
    """Per rate and batch size run more than once (``BENCH_REPEAT``): the median and range of
    the figures that vary most from run to run, so one lucky or unlucky run is not the
    result."""
    groups: dict[tuple[float | str, int], list[EndToEndRun]] = {}
    for run in runs:
        groups.setdefault((run.target_rate, run.batch_size), []).append(run)
    out = []
    for (rate, batch), group in groups.items():
        if len(group) < 2:
            continue
        spreads = {}
        for name, of in REPEATED_FIGURES.items():
            values = [v for v in map(of, group) if v is not None]
            if values:
                spreads[name] = spread(values)
        out.append(
            Repeated(
                target_rate=rate,
                batch_size=batch,
                runs=len(group),
                visible_p50_ms=spreads.get("visible_p50_ms"),
                visible_p99_ms=spreads.get("visible_p99_ms"),
                applied_per_s=spreads.get("applied_per_s"),
                cpu_ms_per_order=spreads.get("cpu_ms_per_order"),
            )
        )
    return out


def versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for package in ("fastapi", "sqlalchemy", "asyncpg", "aiokafka", "uvicorn", "pydantic"):
        try:
            out[package] = version(package)
        except PackageNotFoundError:
            continue
    from devstack.pginstall import major_version
    from devstack.postgres import find_bindir

    out["postgresql"] = str(major_version(find_bindir()))
    return out


def _hops(
    received: dict[str, float],
    relayed: dict[str, float],
    created: dict[str, float],
    seen: dict[str, float],
) -> Hops:
    """Where the time from intake to visibility goes, hop by hop, from the stores' own
    timestamps (one clock: everything runs on this machine): ingest's accepting transaction
    to the relay's pick-up (the transaction, then the outbox's wait), the relay's pick-up to
    fulfillment's applying transaction (produce, broker, fetch, the consumer's queue), and
    that to the probe seeing the order (apply, commit, poll: sampled orders only)."""

    def between(start: dict[str, float], end: dict[str, float]) -> Percentiles:
        return percentiles([end[i] - start[i] for i in end if i in start])

    return Hops(
        ingest_to_relay=between(received, relayed),
        relay_to_fulfillment=between(relayed, created),
        fulfillment_to_visible=between(created, seen),
    )


def summary(report: Report) -> str:
    m = report.machine
    lines = [f"Orderflow on {m.cores} cores, {m.memory_mib} MiB, Python {m.python}"]
    if warm := report.runs.warm_up:
        lines.append(
            f"  warm-up: {warm.rounds} x {warm.orders_per_round} orders, Kafka's JIT "
            f"{warm.kafka_jit_seconds} CPU-s per round"
        )
    for run in report.runs.end_to_end:
        lines.extend(_end_to_end_lines(run))
    lines.extend(_repeated_line(rep) for rep in report.repeated)
    for single in report.runs.single:
        lines.extend(_single_lines(single))
    if soak := report.runs.soak:
        lines.extend(_soak_lines(soak))
    lines.append(_limit_line(report.limit))
    lines.append(f"  ratios: {jsonable(report.ratios)}")
    lines.append(targets_line(report.targets))
    return "\n".join(lines)


def _end_to_end_lines(run: EndToEndRun) -> list[str]:
    vis, put = run.visible, run.throughput
    lines = [
        f"  e2e {run.orders} @ {run.target_rate} x{run.batch_size}: "
        f"accepted {put.accepted_per_s}/s, "
        f"applied {put.applied_per_s}/s, visible p50 {vis.p50_ms} ms "
        f"p99 {vis.p99_ms} ms"
    ]
    lines.append(
        "    hops p50/p99 ms: "
        + ", ".join(
            f"{k} {v.p50_ms}/{v.p99_ms}" for k, v in run.latency.hops.named() if not v.empty
        )
    )
    lines.extend(_cpu_lines(run.cpu))
    lines.append(f"    background: {activity.summary(run.background)}")
    if run.target_rate == FULL_SPEED:
        lines.append("    over time:")
        lines.extend(f"      {line}" for line in timeline.summary(run.timeline).splitlines())
    return lines


def _cpu_lines(cpu: CpuUsed) -> list[str]:
    probe = cpu.machine
    return [
        f"    CPU {cpu.ms_per_order} ms/order: "
        + ", ".join(f"{k} {v}s" for k, v in cpu.seconds.items())
        + f" (of which Kafka's JIT {cpu.kafka_jit_seconds}s)",
        f"    machine: speed probe {probe.speed_probe_ms} ms before the run, "
        f"{probe.steal_seconds} s stolen by the hypervisor during it",
    ]


def _repeated_line(rep: Repeated) -> str:
    p99, applied = rep.visible_p99_ms, rep.applied_per_s
    return (
        f"  {rep.runs} runs @ {rep.target_rate} x{rep.batch_size}: visible p99 "
        f"median {p99 and p99.median} ms ({p99 and p99.min}-{p99 and p99.max}), applied "
        f"median {applied and applied.median}/s ({applied and applied.min}-"
        f"{applied and applied.max})"
    )


def _single_lines(run: SingleRun) -> list[str]:
    lat, cpu = run.latency, run.cpu
    return [
        f"  single @ {run.target_rate:g}/s: {run.requests_per_s} req/s, "
        f"p50 {lat.p50_ms} ms p99 {lat.p99_ms} ms, "
        f"CPU {cpu.ms_per_order} ms/order, speed probe "
        f"{cpu.machine.speed_probe_ms} ms",
        f"    background: {activity.summary(run.background)}",
    ]


def _soak_lines(soak: SoakRun) -> list[str]:
    run = soak.run
    return [
        f"  soak {run.orders} @ {run.target_rate}: applied {run.throughput.applied_per_s}/s, "
        f"visible p99 {run.visible.p99_ms} ms; RSS growth in the "
        "second half (MiB/min): "
        + ", ".join(f"{k} {v.second_half_mib_per_min}" for k, v in soak.memory.items()),
        f"    background: {activity.summary(run.background)}",
    ]


def _limit_line(limit: Limits) -> str:
    kafka, pg, pipe = limit.kafka, limit.postgres, limit.pipeline
    return (
        f"  limit: Kafka produce {kafka.produce_per_s}/s consume {kafka.consume_per_s}/s; "
        f"PostgreSQL COPY {pg.copy_per_s}/s executemany {pg.executemany_per_s}/s; "
        f"pipeline (intake and three stores) {pipe.per_s}/s at "
        f"{pipe.cpu.ms_per_order} ms CPU/order"
    )


def main() -> None:
    report = asyncio.run(run())
    print(summary(report))
    print(save("platform", report))


if __name__ == "__main__":
    main()
