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
import statistics
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

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
    connect,
    machine,
    percentiles,
    save,
    speed_probe_ms,
    spread,
    steal_seconds,
)
from bench.limits import kafka_limit, pipeline_limit, postgres_limit
from bench.loadgen import LoadProcess, LoadSpec, order_ids
from bench.stores import wait_complete
from bench.timeline import Timeline

INFRA = Infra("bench", kafka_port=29092, controller_port=29093, postgres_port=25432)
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

    async def end_to_end(
        self,
        n: int,
        rate: float,
        batch: int,
        *,
        profile_s: int = 0,
        memory: MemoryWatch | None = None,
    ) -> dict[str, Any]:
        prefix = self._prefix()
        spec = LoadSpec(
            url=self.cluster.ingest_url,
            api_key=API_KEY,
            orders=n,
            id_prefix=prefix,
            mode="batch",
            batch_size=batch,
            rate=rate,
            in_flight=_in_flight(rate, batch),
        )
        ids = order_ids(prefix, n)
        step = max(1, n // SAMPLED)
        sample = ids[::step]
        # When each sampled order is due to be posted (rate runs): polling an order long
        # before it is sent only adds to the database's work.
        due = [i * step / rate if rate else 0.0 for i in range(len(sample))]
        await checkpoint(self.cluster)
        background = activity.Activity(self.cluster)
        await background.start()
        progress = Timeline(self.cluster)
        usage = Usage(self.cluster)
        load = LoadProcess(spec, self.cluster.log_dir)
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
        accepted: dict[str, float] = result["accepted"]
        created = await self._times(prefix, "fulfillment", "created_at")
        received = await self._times(prefix, "ingest", "received_at")
        relayed = await self._relayed(prefix)
        elapsed = result["finished"] - result["started"]
        visible = [seen[i] - accepted[i] for i in sample if i in seen and i in accepted]
        applied_s = (done.done_at - result["started"]) if done.done_at else None
        out: dict[str, Any] = {
            "orders": n,
            "target_rate": rate or "full speed",
            "batch_size": batch,
            "accepted": len(accepted),
            "accepted_per_s": round(len(accepted) / elapsed, 1),
            "applied_per_s": round(len(accepted) / applied_s, 1) if applied_s else None,
            "seconds_to_all_applied": round(applied_s, 2) if applied_s else None,
            "store_done_after_s": {
                s: round(t - result["started"], 2) for s, t in done.store_done.items()
            },
            "statuses": result["statuses"],
            "batch_request_latency": percentiles(result["request_latencies"]),
            "visible_in_fulfillment": {"sampled": len(visible), **percentiles(visible)},
            "visible_from_ingest_received_at": percentiles(
                [seen[i] - received[i] for i in sample if i in seen and i in received]
            ),
            "fulfillment_created_at": percentiles(
                [created[i] - accepted[i] for i in accepted if i in created]
            ),
            "hops": _hops(received, relayed, created, {i: seen[i] for i in sample if i in seen}),
            "cpu": cpu,
            "background": background_report,
            "timeline": over_time,
        }
        for name, (proc, raw) in profiles.items():
            if proc is not None:
                proc.wait()
                out.setdefault("profile", {})[name] = profile.summarize(raw)
        return out

    def _start_profiles(self, seconds: int) -> dict[str, Any]:
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

    async def soak(self, rate: float, seconds: float, batch: int) -> dict[str, Any]:
        """A fixed rate for ``seconds``: each process's RSS minute by minute, and its growth
        over the second half (after warm-up) in MiB per minute."""
        watch = MemoryWatch(self.cluster)
        run = await self.end_to_end(int(rate * seconds), rate, batch, memory=watch)
        return {**run, "memory": watch.trend()}

    async def singles(self, rate: float, seconds: float) -> dict[str, Any]:
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
        elapsed = result["finished"] - result["started"]
        await wait_complete(self.cluster, self.total, timeout=max(300.0, n / 20))
        return {
            "orders": n,
            "target_rate": rate,
            "requests_per_s": round(len(result["accepted"]) / elapsed, 1),
            "statuses": result["statuses"],
            "latency": percentiles(result["request_latencies"]),
            "cpu": usage.used(n),
            "background": await background.stop(n),
        }


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


async def run() -> dict[str, Any]:
    plan = Plan.from_env()
    was_running = INFRA.is_running()
    INFRA.start()
    try:
        return await _run(plan)
    finally:
        if not was_running:  # leave the machine as we found it
            INFRA.stop()


async def _run(plan: Plan) -> dict[str, Any]:
    n, batch = plan.orders, plan.batch
    tag = f"bench{int(time.time())}"
    cluster = Cluster(INFRA, tag)
    cluster.create()
    cluster.start_all(LAYOUTS[plan.layout])
    report: dict[str, Any] = {
        "benchmark": "platform",
        "tag": tag,
        "machine": machine(),
        "versions": versions(),
        "layout": {
            "all": "python -m <service> all, one process per service",
            "roles": "python -m <service> api|worker|relay, one process per role and service",
        }[plan.layout],
        "profiler": "py-spy" if plan.profile_seconds and profile.available() else None,
    }
    try:
        await asyncio.sleep(3)  # the consumers join their groups
        bench = Bench(cluster)
        step: Callable[[str, Awaitable[Any]], Awaitable[Any]] = _timed
        if plan.warmup:
            report["warm_up"] = await warm_up(bench, plan.warmup, (batch, plan.rate_batch), step)
        report["end_to_end"] = [
            await step(
                f"end to end, {n} orders, full speed",
                bench.end_to_end(n, 0, batch, profile_s=plan.profile_seconds),
            )
        ]
        repeat = plan.repeat
        for rate, rate_batch in plan.rates:
            m = min(n, int(rate * plan.rate_seconds))
            for i in range(1, repeat + 1):
                report["end_to_end"].append(
                    await step(
                        f"end to end, {m} orders at {rate:g}/s in batches of {rate_batch}"
                        + (f" ({i} of {repeat})" if repeat > 1 else ""),
                        bench.end_to_end(m, rate, rate_batch),
                    )
                )
        report["repeated"] = repeated(report["end_to_end"][1:])
        report["single"] = [
            await step(f"single orders at {r:g}/s", bench.singles(r, plan.single_seconds))
            for r in plan.single_rates
        ]
        if plan.soak_rate and plan.soak_seconds:
            report["soak"] = await step(
                f"soak: {plan.soak_rate:g} orders/s for {plan.soak_seconds:g} s",
                bench.soak(plan.soak_rate, plan.soak_seconds, plan.rate_batch),
            )
        report["memory"] = bench.memory.report()
        report["dead_processes"] = cluster.dead()
    finally:
        cluster.stop_all()
    report["limit"] = {
        "kafka": await _timed("bare Kafka", kafka_limit(INFRA, tag, n)),
        "postgres": await _timed("bare PostgreSQL", postgres_limit(INFRA, tag, n, batch)),
        "pipeline": await _timed(
            "bare Kafka-plus-PostgreSQL pipeline", pipeline_limit(INFRA, tag, n, batch)
        ),
    }
    report["ratios"] = ratios(report)
    report["targets"] = targets(report)
    return report


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


async def warm_up(
    bench: Bench,
    orders: int,
    batches: tuple[int, int],
    step: Callable[[str, Awaitable[Any]], Awaitable[Any]],
) -> dict[str, Any]:
    """Not reported: the first orders pay for the broker's JVM compiling its hot paths,
    connection pools filling, statements being prepared and planned. Rounds of ``orders`` at
    full speed in batches of ``batches[0]``, then half as many at ``WARM_UP_RATE`` in batches
    of ``batches[1]``, until the broker's JIT has settled (``JIT_SETTLED_S``)."""
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
        jit.append(round(sum(run["cpu"]["kafka_jit_seconds"] for run in runs), 2))
        if jit[-1] < JIT_SETTLED_S:
            break
    return {
        "orders_per_round": orders + orders // 2,
        "rounds": len(jit),
        "kafka_jit_seconds": jit,
    }


async def _in_turn(*runs: Awaitable[dict[str, Any]]) -> list[dict[str, Any]]:
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

    def used(self, orders: int) -> dict[str, Any]:
        cpu = _cpu_used(self.cpu, cpu_seconds(self.cluster), orders)
        cpu["kafka_jit_seconds"] = round(jit_seconds(kafka_pid(self.cluster.infra)) - self.jit, 2)
        cpu["machine"] = {
            "speed_probe_ms": self.speed,
            "steal_seconds": round(steal_seconds() - self.steal, 2),
        }
        return cpu


def _cpu_used(before: dict[str, float], after: dict[str, float], orders: int) -> dict[str, Any]:
    """CPU seconds each process spent on the run (from acceptance of the first order until every
    store holds the last), and per order in milliseconds: where the machine's time went."""
    spent = {k: round(after[k] - before.get(k, 0.0), 2) for k in sorted(after)}
    total = sum(spent.values())
    return {
        "seconds": spent,
        "total_seconds": round(total, 2),
        "ms_per_order": round(1000 * total / orders, 3) if orders else None,
        "note": "the load generator's own CPU is not counted",
    }


async def _timed(label: str, work: Awaitable[Any]) -> Any:
    started = time.perf_counter()
    print(f"... {label}", flush=True)
    result = await work
    print(f"    done in {time.perf_counter() - started:.1f}s", flush=True)
    return result


def repeated(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per rate and batch size run more than once (``BENCH_REPEAT``): the median and range of
    the figures that vary most from run to run, so one lucky or unlucky run is not the
    result."""
    groups: dict[tuple[Any, int], list[dict[str, Any]]] = {}
    for run in runs:
        groups.setdefault((run["target_rate"], run["batch_size"]), []).append(run)
    figures: dict[str, Callable[[dict[str, Any]], Any]] = {
        "visible_p50_ms": lambda r: r["visible_in_fulfillment"].get("p50_ms"),
        "visible_p99_ms": lambda r: r["visible_in_fulfillment"].get("p99_ms"),
        "applied_per_s": lambda r: r["applied_per_s"],
        "cpu_ms_per_order": lambda r: r["cpu"]["ms_per_order"],
    }
    out = []
    for (rate, batch), group in groups.items():
        if len(group) < 2:
            continue
        entry: dict[str, Any] = {"target_rate": rate, "batch_size": batch, "runs": len(group)}
        for name, of in figures.items():
            values = [v for v in map(of, group) if v is not None]
            if values:
                entry[name] = spread(values)
        out.append(entry)
    return out


def ratios(report: dict[str, Any]) -> dict[str, Any]:
    full = report["end_to_end"][0]
    kafka, pg = report["limit"]["kafka"], report["limit"]["postgres"]
    pipe = report["limit"]["pipeline"]

    def ratio(a: float | None, b: float | None) -> float | None:
        return round(a / b, 4) if a and b else None

    return {
        # The target's ratio: orders/s through all three stores against the same Kafka and
        # PostgreSQL work done by bare clients along the same path, in the same run.
        "applied_vs_bare_pipeline": ratio(full["applied_per_s"], pipe["per_s"]),
        # What part of the platform's CPU per order that bare work is.
        "bare_pipeline_cpu_share": ratio(pipe["cpu"]["ms_per_order"], full["cpu"]["ms_per_order"]),
        "accepted_vs_bare_pg_executemany": ratio(full["accepted_per_s"], pg["executemany_per_s"]),
        "accepted_vs_bare_pg_copy": ratio(full["accepted_per_s"], pg["copy_per_s"]),
        "applied_vs_bare_kafka_produce_then_consume": ratio(
            full["applied_per_s"], kafka["produce_then_consume_per_s"]
        ),
        "accepted_vs_bare_kafka_produce": ratio(full["accepted_per_s"], kafka["produce_per_s"]),
    }


# The targets, on a 2-core machine with everything on it (docs/performance/method.md).
SUSTAINED_TARGET = 2200  # orders/s through all three consumers
P99_TARGET_MS = 250  # visible in fulfillment at 1,000 orders/s
P99_TARGET_RATE = 1000.0
PIPELINE_RATIO_TARGET = 0.5  # applied against the bare Kafka-plus-PostgreSQL pipeline
# RSS growth in the soak's second half that still counts as flat. One-sided: the target guards
# against leaks, and a service giving memory back is not one (in 058e7dd's soak each service
# gave back about 1 MiB at minute seven: -0.18 MiB/min, which a two-sided check called not flat).
FLAT_MIB_PER_MIN = 0.1


def targets(report: dict[str, Any]) -> dict[str, Any]:
    """Each target against this run's figure, with what the figure rests on; ``met`` is None
    when the run did not measure it. Read with the CPU per order beside it: the same build
    lands on either side of a target as the machine's speed changes."""
    full = report["end_to_end"][0]
    during = (full.get("timeline") or {}).get("during_load") or {}
    if during.get("applied_per_s"):
        sustained = min(during["applied_per_s"].values())
        basis = "slowest consumer while the load ran"
    else:
        sustained, basis = full["applied_per_s"], "applied over the whole run"
    out: dict[str, Any] = {
        "sustained_orders_per_s": {
            "target": SUSTAINED_TARGET,
            "value": sustained,
            "basis": basis,
            "met": sustained >= SUSTAINED_TARGET,
            "cpu_ms_per_order": full["cpu"]["ms_per_order"],
            "speed_probe_ms": full["cpu"].get("machine", {}).get("speed_probe_ms"),
        }
    }
    at_rate = [r for r in report["end_to_end"] if r["target_rate"] == P99_TARGET_RATE]
    p99s = [r["visible_in_fulfillment"].get("p99_ms") for r in at_rate]
    measured = [p for p in p99s if p is not None]
    if measured:
        median = statistics.median(measured)
        out["p99_ms_at_1000_per_s"] = {
            "target": P99_TARGET_MS,
            "value": median,
            "basis": f"median of {len(measured)} runs",
            "runs_under_target": sum(p < P99_TARGET_MS for p in measured),
            "met": median < P99_TARGET_MS,
            "cpu_ms_per_order": [r["cpu"]["ms_per_order"] for r in at_rate],
        }
    else:
        out["p99_ms_at_1000_per_s"] = {"target": P99_TARGET_MS, "value": None, "met": None}
    ratio = report["ratios"].get("applied_vs_bare_pipeline")
    out["applied_vs_bare_pipeline"] = {
        "target": PIPELINE_RATIO_TARGET,
        "value": ratio,
        "met": None if ratio is None else ratio >= PIPELINE_RATIO_TARGET,
    }
    growth = {
        name: m["second_half_mib_per_min"]
        for name, m in (report.get("soak") or {}).get("memory", {}).items()
    }
    measured_growth = [g for g in growth.values() if g is not None]
    out["memory_flat"] = {
        "target": (
            f"RSS growth at most {FLAT_MIB_PER_MIN} MiB/min in the soak's second half, "
            "every service"
        ),
        "value": growth or None,
        "met": (all(g <= FLAT_MIB_PER_MIN for g in measured_growth) if measured_growth else None),
    }
    return out


def _targets_line(found: dict[str, Any]) -> str:
    def verdict(entry: dict[str, Any]) -> str:
        return {True: "met", False: "not met", None: "not measured"}[entry["met"]]

    sustained, p99 = found["sustained_orders_per_s"], found["p99_ms_at_1000_per_s"]
    ratio, memory = found["applied_vs_bare_pipeline"], found["memory_flat"]
    parts = [
        f"{sustained['target']}/s sustained: {sustained['value']}/s ({sustained['basis']}, "
        f"{sustained['cpu_ms_per_order']} ms CPU/order): {verdict(sustained)}",
        f"p99 < {p99['target']} ms at 1,000/s: {p99['value']} ms"
        + (f" ({p99['basis']}, {p99['runs_under_target']} under)" if "basis" in p99 else "")
        + f": {verdict(p99)}",
        f"{ratio['target']} of the bare pipeline: {ratio['value']}: {verdict(ratio)}",
        f"memory flat: {verdict(memory)}",
    ]
    return "  targets: " + "; ".join(parts)


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
) -> dict[str, dict[str, float]]:
    """Where the time from intake to visibility goes, hop by hop, from the stores' own
    timestamps (one clock: everything runs on this machine): ingest's accepting transaction
    to the relay's pick-up (the transaction, then the outbox's wait), the relay's pick-up to
    fulfillment's applying transaction (produce, broker, fetch, the consumer's queue), and
    that to the probe seeing the order (apply, commit, poll: sampled orders only)."""

    def between(start: dict[str, float], end: dict[str, float]) -> dict[str, float]:
        return percentiles([end[i] - start[i] for i in end if i in start])

    return {
        "ingest_to_relay": between(received, relayed),
        "relay_to_fulfillment": between(relayed, created),
        "fulfillment_to_visible": between(created, seen),
    }


def summary(report: dict[str, Any]) -> str:
    m = report["machine"]
    lines = [f"Orderflow on {m['cores']} cores, {m['memory_mib']} MiB, Python {m['python']}"]
    if warm := report.get("warm_up"):
        lines.append(
            f"  warm-up: {warm['rounds']} x {warm['orders_per_round']} orders, Kafka's JIT "
            f"{warm['kafka_jit_seconds']} CPU-s per round"
        )
    for run in report["end_to_end"]:
        vis = run["visible_in_fulfillment"]
        lines.append(
            f"  e2e {run['orders']} @ {run['target_rate']} x{run['batch_size']}: "
            f"accepted {run['accepted_per_s']}/s, "
            f"applied {run['applied_per_s']}/s, visible p50 {vis.get('p50_ms')} ms "
            f"p99 {vis.get('p99_ms')} ms"
        )
        if hops := run.get("hops"):
            lines.append(
                "    hops p50/p99 ms: "
                + ", ".join(
                    f"{k} {v.get('p50_ms')}/{v.get('p99_ms')}" for k, v in hops.items() if v
                )
            )
        cpu = run["cpu"]
        lines.append(
            f"    CPU {cpu['ms_per_order']} ms/order: "
            + ", ".join(f"{k} {v}s" for k, v in cpu["seconds"].items())
            + f" (of which Kafka's JIT {cpu.get('kafka_jit_seconds')}s)"
        )
        if probe := cpu.get("machine"):
            lines.append(
                f"    machine: speed probe {probe['speed_probe_ms']} ms before the run, "
                f"{probe['steal_seconds']} s stolen by the hypervisor during it"
            )
        lines.append(f"    background: {activity.summary(run['background'])}")
        if run["target_rate"] == "full speed" and run.get("timeline"):
            lines.append("    over time:")
            lines.extend(f"      {line}" for line in timeline.summary(run["timeline"]).splitlines())
    for rep in report.get("repeated", []):
        p99 = rep.get("visible_p99_ms", {})
        applied = rep.get("applied_per_s", {})
        lines.append(
            f"  {rep['runs']} runs @ {rep['target_rate']} x{rep['batch_size']}: visible p99 "
            f"median {p99.get('median')} ms ({p99.get('min')}-{p99.get('max')}), applied "
            f"median {applied.get('median')}/s ({applied.get('min')}-{applied.get('max')})"
        )
    for run in report["single"]:
        lat = run["latency"]
        cpu = run.get("cpu", {})
        lines.append(
            f"  single @ {run['target_rate']:g}/s: {run['requests_per_s']} req/s, "
            f"p50 {lat.get('p50_ms')} ms p99 {lat.get('p99_ms')} ms, "
            f"CPU {cpu.get('ms_per_order')} ms/order, speed probe "
            f"{cpu.get('machine', {}).get('speed_probe_ms')} ms"
        )
        lines.append(f"    background: {activity.summary(run['background'])}")
    if "soak" in report:
        run = report["soak"]
        lines.append(
            f"  soak {run['orders']} @ {run['target_rate']}: applied {run['applied_per_s']}/s, "
            f"visible p99 {run['visible_in_fulfillment'].get('p99_ms')} ms; RSS growth in the "
            "second half (MiB/min): "
            + ", ".join(f"{k} {v['second_half_mib_per_min']}" for k, v in run["memory"].items())
        )
        lines.append(f"    background: {activity.summary(run['background'])}")
    kafka, pg = report["limit"]["kafka"], report["limit"]["postgres"]
    pipe = report["limit"]["pipeline"]
    lines.append(
        f"  limit: Kafka produce {kafka['produce_per_s']}/s consume {kafka['consume_per_s']}/s; "
        f"PostgreSQL COPY {pg['copy_per_s']}/s executemany {pg['executemany_per_s']}/s; "
        f"pipeline (intake and three stores) {pipe['per_s']}/s at "
        f"{pipe['cpu']['ms_per_order']} ms CPU/order"
    )
    lines.append(f"  ratios: {report['ratios']}")
    if "targets" in report:
        lines.append(_targets_line(report["targets"]))
    return "\n".join(lines)


def main() -> None:
    report = asyncio.run(run())
    print(summary(report))
    print(save("platform", report))


if __name__ == "__main__":
    main()
