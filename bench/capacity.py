"""``make bench-capacity``: CPU an order by role, and what one instance of each role does alone.

The figures a capacity model is built from (docs/operations/capacity.md). On ``make bench``'s
private Kafka and PostgreSQL, the services run one process per role, as ``deploy/k8s`` runs
them, and each role works ALONE in turn, in the pipeline's order, on work already waiting for
it, so every CPU second of the broker and of PostgreSQL in a step is that role's:

1. ingest's ``api`` takes ``BENCH_ORDERS`` orders (default 20000) at full speed in batches of
   ``BENCH_BATCH`` (500), ``BENCH_IN_FLIGHT`` (2) requests at a time, with no relay running,
   so its outbox fills;
2. ingest's ``relay`` is started and publishes that outbox;
3. each consumer's ``worker`` (fulfillment, defects, analytics, then ingest's), and after it
   its service's ``relay``, applies or publishes what waits for it, one instance on all of its
   topics' partitions. A role with nothing waiting is left out.

Per step: orders/s, and per order the CPU milliseconds of the role's process, of PostgreSQL
(every process of the server: backends, WAL writer, checkpointer, autovacuum) and of the
broker, and the WAL bytes written (``pg_current_wal_lsn`` before and after). A step's window
runs from just before its first progress to its last (a process's start, imports and joining
its group, is not counted). At the end, the bytes each topic holds on the broker's disk per order.

The sequence runs on a cluster whose topics have ``KAFKA_PARTITIONS`` partitions (12, as
``deploy/k8s/base/config.yaml``) and again on one with a single partition: a worker alone on a
one-partition topic applies what one partition allows (a partition is consumed by one instance
at a time). ``BENCH_REPEAT`` (2) rounds, each on fresh databases and topics.

Prints a summary, then the JSON document (also saved under ``bench/results/``) as the last
line. Figures only: nothing here fails because the machine is slow.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import asyncpg
from aiokafka import AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import GroupCoordinatorNotAvailableError

from bench.cluster import API_KEY, SUBSCRIBES, Cluster, cpu_seconds
from bench.common import Machine, Spread, connect, machine, save, speed_probe_ms, spread
from bench.endtoend import INFRA, checkpoint, versions
from bench.loadgen import LoadProcess, LoadSpec
from bench.stores import kafka_clients, partitions

# Each role in the pipeline's order: what waits for a role was left by the ones before it.
STEPS: tuple[tuple[str, str], ...] = (
    ("ingest", "api"),
    ("ingest", "relay"),
    ("fulfillment", "worker"),
    ("fulfillment", "relay"),
    ("defects", "worker"),
    ("defects", "relay"),
    ("analytics", "worker"),
    ("analytics", "relay"),
    ("ingest", "worker"),
)
# What each service's worker consumes (logical topics).
CONSUMES: dict[str, tuple[str, ...]] = {**SUBSCRIBES, "ingest": ("fulfillment.v1",)}
POLL_S = 0.1


# A ``Meter`` reading: (monotonic time, CPU seconds by "role"/"postgres"/"kafka", WAL bytes).
Reading = tuple[float, dict[str, float], int]


@dataclass(frozen=True)
class RoleRun:
    """One role working alone on what waited for it."""

    service: str
    role: str
    orders: float  # the orders the window's work came from
    seconds: float
    orders_per_s: float
    cpu_ms_per_order: dict[str, float]  # "role" (its process), "postgres", "kafka"
    wal_bytes_per_order: int
    # The machine's speed just before (bench.common.speed_probe_ms): on a busy host every
    # process's CPU an order grows with it.
    speed_probe_ms: float

    @property
    def name(self) -> str:
        return f"{self.service}-{self.role}"


@dataclass(frozen=True)
class Round:
    """The steps on one cluster, and what the broker holds per order by topic."""

    partitions: int
    orders: int
    steps: list[RoleRun]
    topic_bytes_per_order: dict[str, int]


@dataclass(frozen=True)
class RoleFigures:
    """A role's figures over every round with the same partition count: median and range."""

    role: str
    partitions: int
    runs: int
    orders_per_s: Spread
    role_cpu_ms_per_order: Spread
    postgres_cpu_ms_per_order: Spread
    kafka_cpu_ms_per_order: Spread
    wal_bytes_per_order: Spread
    speed_probe_ms: Spread


@dataclass(frozen=True)
class Report:
    tag: str
    machine: Machine
    versions: dict[str, str]
    rounds: list[Round]
    roles: list[RoleFigures]
    benchmark: str = "capacity"


@dataclass(frozen=True)
class Plan:
    orders: int  # BENCH_ORDERS
    batch: int  # BENCH_BATCH
    in_flight: int  # BENCH_IN_FLIGHT
    partitions: list[int]  # BENCH_PARTITIONS: one cluster per entry, in turn
    repeat: int  # BENCH_REPEAT

    @classmethod
    def from_env(cls) -> Plan:
        env = os.environ
        return cls(
            orders=int(env.get("BENCH_ORDERS", "20000")),
            batch=int(env.get("BENCH_BATCH", "500")),
            in_flight=int(env.get("BENCH_IN_FLIGHT", "2")),
            partitions=[int(p) for p in env.get("BENCH_PARTITIONS", "12,1").split(",") if p],
            repeat=max(1, int(env.get("BENCH_REPEAT", "2"))),
        )


class Meter:
    """CPU seconds of the step's process, PostgreSQL and the broker, and the server's WAL
    position, read together (over one connection kept open: a new one costs PostgreSQL a
    backend's start each time)."""

    def __init__(self, cluster: Cluster, process: str) -> None:
        self.cluster = cluster
        self.process = process
        self.conn: asyncpg.Connection | None = None

    async def read(self) -> Reading:
        """(monotonic time, CPU seconds by "role"/"postgres"/"kafka", WAL position in bytes)."""
        if self.conn is None:
            self.conn = await connect(self.cluster.dsn("ingest"))
        lsn = int(await self.conn.fetchval("SELECT pg_current_wal_lsn() - '0/0'::pg_lsn"))
        cpu = cpu_seconds(self.cluster)
        used = {
            "role": cpu.get(self.process, 0.0),
            "postgres": cpu.get("postgres", 0.0),
            "kafka": cpu.get("kafka", 0.0),
        }
        return time.monotonic(), used, lsn

    async def close(self) -> None:
        if self.conn is not None:
            await self.conn.close()
            self.conn = None


def role_run(
    service: str,
    role: str,
    orders: float,
    start: Reading,
    end: Reading,
    speed_probe_ms: float,
) -> RoleRun:
    """The figures of a window from two ``Meter`` readings and the orders' worth done."""
    seconds = end[0] - start[0]
    return RoleRun(
        service=service,
        role=role,
        orders=round(orders, 1),
        seconds=round(seconds, 2),
        orders_per_s=round(orders / seconds, 1) if seconds > 0 else 0.0,
        cpu_ms_per_order={
            k: round(1000 * (end[1][k] - start[1][k]) / orders, 4) if orders else 0.0
            for k in start[1]
        },
        wal_bytes_per_order=round((end[2] - start[2]) / orders) if orders else 0,
        speed_probe_ms=speed_probe_ms,
    )


async def intake(cluster: Cluster, plan: Plan, prefix: str) -> RoleRun:
    """Ingest's API alone takes the orders (no relay: the outbox fills)."""
    cluster.start("ingest", "api")
    cluster.wait_ready("ingest")
    meter = Meter(cluster, "ingest-api")
    spec = LoadSpec(
        url=cluster.ingest_url,
        api_key=API_KEY,
        orders=plan.orders,
        id_prefix=prefix,
        batch_size=plan.batch,
        in_flight=plan.in_flight,
    )
    probe = speed_probe_ms()
    load = LoadProcess(spec, cluster.log_dir)  # returns once the orders are built
    try:
        start = await meter.read()
        result = await load.wait()
        end = await meter.read()
    finally:
        await meter.close()
    cluster.stop("ingest", "api")
    return role_run("ingest", "api", len(result.accepted), start, end, probe)


class Backlog(Protocol):
    """How much work waits for a role, in its own units (outbox rows, records behind)."""

    async def __call__(self) -> int: ...

    async def close(self) -> None: ...


async def drain(
    cluster: Cluster, service: str, role: str, backlog: Backlog, orders: int
) -> RoleRun | None:
    """Start the role's process alone and measure it from just before its first progress
    until nothing waits; None when nothing waited for it. ``orders``: the orders the waiting
    work came from (its figures are per order)."""
    initial = await backlog()
    if not initial:
        return None
    meter = Meter(cluster, f"{service}-{role}")
    probe = speed_probe_ms()
    cluster.start(service, role)
    # The window opens at the last reading before the first progress: the work is all of
    # it, and at most POLL_S of the process's start-up falls inside.
    before: Reading | None = None
    start: Reading | None = None
    deadline = time.monotonic() + max(300.0, orders / 20)
    try:
        while time.monotonic() < deadline:
            left = await backlog()
            reading = await meter.read()
            if start is None and left < initial:
                start = before or reading
            if left == 0 and start is not None:
                return role_run(service, role, orders, start, reading, probe)
            before = reading
            await asyncio.sleep(POLL_S)
        raise TimeoutError(f"{service}-{role}: {await backlog()} of {initial} still waiting")
    finally:
        await meter.close()
        cluster.stop(service, role)


class Unsent:
    """Rows of the service's outbox not yet sent."""

    def __init__(self, cluster: Cluster, service: str) -> None:
        self.dsn = cluster.dsn(service)
        self.conn: asyncpg.Connection | None = None

    async def __call__(self) -> int:
        if self.conn is None:
            self.conn = await connect(self.dsn)
        return int(await self.conn.fetchval("SELECT count(*) FROM outbox WHERE sent_at IS NULL"))

    async def close(self) -> None:
        if self.conn is not None:
            await self.conn.close()
            self.conn = None


class Behind:
    """Records on the service's topics its group has not committed (its lag)."""

    def __init__(self, cluster: Cluster, service: str) -> None:
        self.cluster = cluster
        self.group = cluster.group(service)
        self.topics = [cluster.topic(t) for t in CONSUMES[service]]
        self.stack = contextlib.AsyncExitStack()
        self.clients: tuple[AIOKafkaAdminClient, AIOKafkaConsumer] | None = None

    async def __call__(self) -> int:
        if self.clients is None:
            self.clients = await self.stack.enter_async_context(
                kafka_clients(self.cluster.infra.bootstrap)
            )
        admin, consumer = self.clients
        tps = await partitions(admin, self.topics)
        ends = await consumer.end_offsets(tps) if tps else {}
        try:
            committed: dict[Any, Any] = await admin.list_consumer_group_offsets(self.group)
        except GroupCoordinatorNotAvailableError:
            # A fresh broker creates its offsets topic on the first group's request: until
            # then, no group has committed anything.
            committed = {}
        total = 0
        for tp, end in ends.items():
            meta = committed.get(tp)
            total += max(0, end - (meta.offset if meta is not None and meta.offset >= 0 else 0))
        return total

    async def close(self) -> None:
        self.clients = None
        await self.stack.aclose()


def topic_bytes(data_dir: Path, prefix: str) -> dict[str, int]:
    """Bytes of log segments in a broker's ``data_dir`` per topic named ``<prefix><topic>``
    (a directory ``<prefix><topic>-<partition>`` each; one replica)."""
    out: dict[str, int] = {}
    for directory in data_dir.glob(f"{prefix}*"):
        topic = directory.name.removeprefix(prefix).rpartition("-")[0]
        size = sum(f.stat().st_size for f in directory.glob("*.log"))
        out[topic] = out.get(topic, 0) + size
    return dict(sorted(out.items()))


async def one_round(tag: str, partitions_: int, plan: Plan, prefix: str) -> Round:
    cluster = Cluster(INFRA, tag, extra_env={"KAFKA_PARTITIONS": str(partitions_)})
    cluster.create()
    try:
        await checkpoint(cluster)
        steps = [await intake(cluster, plan, prefix)]
        orders = round(steps[0].orders)
        for service, role in STEPS[1:]:
            backlog: Backlog = (
                Unsent(cluster, service) if role == "relay" else Behind(cluster, service)
            )
            try:
                found = await drain(cluster, service, role, backlog, orders)
            finally:
                await backlog.close()
            if found is not None:
                steps.append(found)
        held = topic_bytes(Path(cluster.infra.kafka.data_dir), cluster.prefix)
        return Round(
            partitions=partitions_,
            orders=orders,
            steps=steps,
            topic_bytes_per_order={t: round(b / orders) for t, b in held.items() if b},
        )
    finally:
        cluster.stop_all()
        cluster.drop()


def figures(rounds: list[Round]) -> list[RoleFigures]:
    """Per role and partition count, the median and range over the rounds."""
    groups: dict[tuple[str, int], list[RoleRun]] = {}
    for r in rounds:
        for step in r.steps:
            groups.setdefault((step.name, r.partitions), []).append(step)
    return [
        RoleFigures(
            role=name,
            partitions=count,
            runs=len(runs),
            orders_per_s=spread([s.orders_per_s for s in runs]),
            role_cpu_ms_per_order=spread([s.cpu_ms_per_order["role"] for s in runs]),
            postgres_cpu_ms_per_order=spread([s.cpu_ms_per_order["postgres"] for s in runs]),
            kafka_cpu_ms_per_order=spread([s.cpu_ms_per_order["kafka"] for s in runs]),
            wal_bytes_per_order=spread([s.wal_bytes_per_order for s in runs]),
            speed_probe_ms=spread([s.speed_probe_ms for s in runs]),
        )
        for (name, count), runs in groups.items()
    ]


async def run() -> Report:
    plan = Plan.from_env()
    was_running = INFRA.is_running()
    try:
        INFRA.start()
        stamp = int(time.time())
        rounds = []
        for i in range(plan.repeat):
            for count in plan.partitions:
                label = f"round {i + 1} of {plan.repeat}, {count} partition(s)"
                print(f"... {label}", flush=True)
                prefix = f"{stamp % 1000:03d}{i:02d}{count:02d}"
                rounds.append(await one_round(f"cap{stamp}r{i}p{count}", count, plan, prefix))
        return Report(
            tag=f"cap{stamp}",
            machine=machine(),
            versions=versions(),
            rounds=rounds,
            roles=figures(rounds),
        )
    finally:
        if not was_running:  # leave the machine as we found it
            INFRA.stop()


def summary(report: Report) -> str:
    m = report.machine
    lines = [
        f"Capacity on {m.cores} cores, {m.memory_mib} MiB, Python {m.python}: each role alone, "
        "median (range) over rounds"
    ]
    for f in report.roles:
        lines.append(
            f"  {f.role} on {f.partitions} partition(s), {f.runs} runs: "
            f"{_m(f.orders_per_s)} orders/s; CPU ms/order: own {_m(f.role_cpu_ms_per_order)}, "
            f"PostgreSQL {_m(f.postgres_cpu_ms_per_order)}, Kafka {_m(f.kafka_cpu_ms_per_order)}; "
            f"WAL {_m(f.wal_bytes_per_order)} B/order; speed probe {_m(f.speed_probe_ms)} ms"
        )
    for r in report.rounds:
        lines.append(f"  broker bytes/order ({r.partitions} partitions): {r.topic_bytes_per_order}")
    return "\n".join(lines)


def _m(s: Spread) -> str:
    return f"{s.median:g} ({s.min:g}-{s.max:g})"


def main() -> None:
    report = asyncio.run(run())
    print(summary(report))
    print(save("capacity", report))


if __name__ == "__main__":
    main()
