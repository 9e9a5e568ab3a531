"""``make faults``: the platform under load while processes, the broker and the database fail.

Every scenario runs on a private Kafka and PostgreSQL (``.run/faults/``, not ``make up``'s),
with fresh databases and a fresh topic prefix, and each service role in its own process:
ingest ``api`` and ``relay``; fulfillment, defects and analytics ``worker`` and ``relay``.
A load generator (its own process) posts ``FAULT_ORDERS`` orders (default 10000) in batches at
``FAULT_RATE`` orders/s, retrying 503/429 after ``Retry-After``, while the fault happens:

- ``consumer-kill``: ``kill -9`` of each consumer's worker while its store is growing (a batch
  is being applied), restarted at once; three rounds.
- ``relay-kill``: ingest's relay killed with -9 as soon as Kafka holds records its outbox has
  not marked sent (after publishing, before marking sent), restarted; ten times.
- ``kafka-restart``: the broker is stopped, left down ``FAULT_OUTAGE_S`` (10) and started.
- ``postgres-restart``: PostgreSQL likewise; the API must answer 503, never another 5xx.
- ``postgres-crash``: PostgreSQL aborted (``pg_ctl stop -m immediate``: every server process
  killed, what the WAL writer had not yet written lost, crash recovery at the next start), down
  as long, started. The relays' sent marks commit without waiting for the disk, so some may be
  lost: those rows go out again and the stores drop the repeats (a snapshot by its version, a
  fact by the inbox).
- ``rebalance``: a second worker of each consumer joins its group, then leaves.
- ``kafka-kill``: the broker killed with SIGKILL (no controlled shutdown, its log recovered at
  the next start), down ``FAULT_OUTAGE_S``, started.
- ``kafka-kill-publishing``: the broker killed with SIGKILL the moment Kafka holds records
  ingest's outbox has not marked sent (the relay between publishing and marking), down as long.
- ``postgres-kill-committing``: every PostgreSQL process killed with SIGKILL while a consumer's
  ``COMMIT`` is in flight (looked for in ``pg_stat_activity``), down as long, started (crash
  recovery).
- ``rebalance-kill``: a second worker of each consumer joins its group and, while the group
  rebalances, the first worker is killed with -9 and restarted; the second leaves later.

With ``FAULT_KAFKA_BROKERS=3`` the private Kafka is three brokers and a KRaft controller
(topics at RF 3, min ISR 2; docs/adr/0047) and the scenarios are these instead:

- ``broker-kill-leader``: kill -9 of the broker leading most of orders.v1's partitions while
  orders arrive, down ``FAULT_OUTAGE_S``, started again.
- ``broker-out-of-sync``: a broker killed and left down until it is out of every ISR of
  orders.v1, then ``FAULT_OUTAGE_S`` more; started, and back in every ISR.
- ``coordinator-kill-rebalance``: second workers join; during the rebalance, the broker
  coordinating fulfillment's group is killed with -9, back after ``FAULT_OUTAGE_S``.
- ``two-brokers-down``: two of three brokers killed for ``FAULT_TWO_DOWN_S`` (45): orders.v1
  must not grow once they are fenced, ingest's relay must answer /readyz 503 with Retry-After;
  then one is started, and the other ``FAULT_OUTAGE_S`` later.

Each ends by checking that every accepted order is in fulfillment's, defects' and analytics'
stores exactly once (ids compared, row counts equal), no store's inbox holds an order snapshot
(they are applied once by version, docs/adr/0057), analytics' event log holds one orders.v1
event per order, no service published an event twice for the same (subject, version), nothing
was dead-lettered, every outbox is drained, every consumer group's lag is zero, no status other
than 2xx/429/503 was answered, no process died on its own, and every worker and relay answers
``/readyz`` 200 at the end (none stalled; each serves it on its own ``OPS_PORT``). Recovery time
runs from the end of the fault until all of that holds; the **bound** (``FAULT_RECOVERY_S``,
default 120) is on the time from the later of the fault's end and the load's end until it holds
(the load goes on after most faults, and nothing can be complete before it ends): a run that
takes longer fails. ``FAULT_SCENARIOS`` picks scenarios (comma separated); ``FAULT_REPEAT=N``
runs each one N times, each on fresh databases, topics and processes, and ends with the passes
out of N per scenario. Prints one line per run, then a JSON summary as the last line; exits 1
if any run failed. Why repeated and bounded: docs/adr/0029-fault-runs-repeated-and-bounded.md.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import signal
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import httpx
from aiokafka.admin import AIOKafkaAdminClient

from bench import stores
from bench.cluster import API_KEY, CONSUMERS, Cluster, Infra, Proc, kafka_pid, tail
from bench.common import Machine, free_port, machine, save
from bench.loadgen import LoadProcess, LoadResult, LoadSpec
from bench.report import jsonable

# Ports of their own: not make up's (9092, 5432) nor the test servers' (19092, 15432).
# FAULT_KAFKA_PORT (the controller's is the next one) and FAULT_POSTGRES_PORT move them, for
# two runs on one machine.
_KAFKA_PORT = int(os.environ.get("FAULT_KAFKA_PORT", "39092"))
# FAULT_KAFKA_BROKERS=3: a cluster of three brokers (FAULT_KAFKA_PORT, +2, +4) and one
# controller (+1), and the broker scenarios below (docs/adr/0047).
BROKERS = int(os.environ.get("FAULT_KAFKA_BROKERS") or 1)
INFRA = Infra(
    "faults",
    kafka_port=_KAFKA_PORT,
    controller_port=_KAFKA_PORT + 1,
    postgres_port=int(os.environ.get("FAULT_POSTGRES_PORT", "35432")),
    brokers=BROKERS,
)
LAYOUT = [
    ("ingest", "api"),
    ("ingest", "relay"),
    *((service, role) for service in CONSUMERS for role in ("worker", "relay")),
]


@dataclass
class FaultCluster(Cluster):
    """A cluster whose workers and relays answer /readyz on ports of their own (``OPS_PORT``),
    so a run can see a stalled one (``shared.progress``)."""

    ops: dict[str, int] = field(default_factory=dict)

    def start(self, service: str, role: str, instance: int = 0) -> Proc:
        if role not in ("worker", "relay"):
            return super().start(service, role, instance)
        name = f"{service}-{role}" + (f"#{instance}" if instance else "")
        self.ops[name] = self.ops.get(name) or free_port()
        self.extra_env["OPS_PORT"] = str(self.ops[name])
        try:
            return super().start(service, role, instance)
        finally:
            del self.extra_env["OPS_PORT"]

    def wait_ready(self, service: str, timeout: float = 90.0) -> None:
        """Longer than a benchmark's 90 s: a loaded 2-core machine took longer than that to
        boot a service while other work ran."""
        super().wait_ready(service, max(timeout, float(os.environ.get("FAULT_BOOT_S", "300"))))

    def ops_ports(self) -> dict[str, int]:
        """The ops ports of the workers and relays running now."""
        running = {p.name for p in self.procs.values() if p.alive()}
        return {name: port for name, port in self.ops.items() if name in running}


async def readiness(cluster: FaultCluster) -> dict[str, str]:
    """Every running worker's and relay's /readyz: "ok", or what its checks said."""
    found: dict[str, str] = {}
    async with httpx.AsyncClient(timeout=5) as client:
        for name, port in sorted(cluster.ops_ports().items()):
            try:
                answer = await client.get(f"http://127.0.0.1:{port}/readyz")
            except httpx.HTTPError as exc:
                found[name] = f"unreachable: {type(exc).__name__}"
                continue
            if answer.status_code == 200:
                found[name] = "ok"
            else:
                checks = answer.json().get("checks", {})
                found[name] = "; ".join(f"{k}: {v}" for k, v in checks.items() if v != "ok")
    return found


async def watch_stalls(cluster: FaultCluster, seen: dict[str, int], every: float = 2.0) -> None:
    """Count, per process, the looks at which its /readyz said it was stalled."""
    while True:
        await asyncio.sleep(every)
        with contextlib.suppress(Exception):
            for name, said in (await readiness(cluster)).items():
                if "Stalled" in said:
                    seen[name] = seen.get(name, 0) + 1


@dataclass
class Run:
    """One scenario's cluster and load, handed to its fault."""

    cluster: FaultCluster
    load: LoadProcess
    orders: int
    rate: float
    events: list[str] = field(default_factory=list)
    started: float = field(default_factory=time.time)
    fault_ended: float | None = None
    violations: list[str] = field(default_factory=list)  # what the fault itself saw go wrong

    def note(self, text: str) -> None:
        self.events.append(f"{time.time() - self.started:6.1f}s {text}")

    async def at_fraction(self, fraction: float) -> None:
        """Sleep until ``fraction`` of the load should have been sent."""
        due = self.started + fraction * self.orders / self.rate
        await asyncio.sleep(max(0.0, due - time.time()))

    async def store_growing(self, service: str, timeout: float = 8.0) -> bool:
        """Wait until ``service``'s store count moves between two looks 50 ms apart."""
        deadline = time.monotonic() + timeout
        before = (await stores.count_orders(self.cluster)).get(service)
        while time.monotonic() < deadline:
            await asyncio.sleep(0.05)
            now = (await stores.count_orders(self.cluster)).get(service)
            if now is not None and before is not None and now > before:
                return True
            before = now
        return False


Fault = Callable[[Run], Coroutine[Any, Any, None]]


async def consumer_kill(run: Run) -> None:
    await run.at_fraction(0.1)
    for round_ in range(1, 4):
        for service in CONSUMERS:
            growing = await run.store_growing(service)
            run.cluster.kill(service, "worker")
            run.cluster.start(service, "worker")
            run.note(f"round {round_}: kill -9 {service} worker (store growing: {growing})")
        for service in CONSUMERS:  # each restarted worker applies again before the next round
            await run.store_growing(service, timeout=30.0)


async def relay_kill(run: Run) -> None:
    """Kill ingest's relay between publishing a batch and marking it sent, ten times.

    While the relay publishes, Kafka holds more ``orders.v1`` records than ingest's outbox has
    rows marked sent (beyond the repeats already there): that is the moment to kill it. Each
    restarted relay is given up to 30 s to boot and publish before it is killed regardless.
    """
    await run.at_fraction(0.1)
    cluster = run.cluster
    async with stores.publish_watch(cluster) as excess:
        baseline = await excess()
        for n in range(1, 11):
            caught = False
            deadline = time.monotonic() + 30.0
            while time.monotonic() < deadline and not caught:
                caught = await excess() > baseline
            cluster.kill("ingest", "relay")
            baseline = await excess()  # the dead relay publishes nothing: a stable reading
            cluster.start("ingest", "relay")
            where = "after publishing, before marking sent" if caught else "(window not seen)"
            run.note(f"kill -9 ingest relay #{n} {where}")


def outage(stop: Callable[[], None], start: Callable[[], Any], what: str) -> Fault:
    async def fault(run: Run) -> None:
        await run.at_fraction(0.25)
        seconds = float(os.environ.get("FAULT_OUTAGE_S", "10"))
        await asyncio.to_thread(stop)
        run.note(f"{what} stopped")
        await asyncio.sleep(seconds)
        await asyncio.to_thread(start)
        run.note(f"{what} started again")

    return fault


async def rebalance(run: Run) -> None:
    await run.at_fraction(0.2)
    for service in CONSUMERS:
        run.cluster.start(service, "worker", instance=1)
    run.note("a second worker of each consumer joined")
    await asyncio.sleep(10.0)
    for service in CONSUMERS:
        run.cluster.stop(service, "worker", instance=1)
    run.note("the second workers left (SIGTERM)")


def kill_kafka() -> None:
    """SIGKILL the broker: no controlled shutdown, no final snapshot of its producer state."""
    pid = kafka_pid(INFRA)
    if pid is not None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        _wait_gone(pid)
    INFRA.kafka.pid_file.unlink(missing_ok=True)


def postgres_pids() -> list[int]:
    """The postmaster of the faults' PostgreSQL and every process it started."""
    try:
        postmaster = int((INFRA.postgres.data_dir / "postmaster.pid").read_text().split()[0])
    except (FileNotFoundError, ValueError, IndexError):
        return []
    children = []
    for stat in os.listdir("/proc"):
        if not stat.isdigit():
            continue
        try:
            with open(f"/proc/{stat}/stat") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        if ppid == postmaster:
            children.append(int(stat))
    return [postmaster, *children]


def kill_postgres() -> None:
    """SIGKILL every PostgreSQL process at once, as a machine that loses power would (unlike
    ``pg_ctl stop -m immediate``, nothing gets to say goodbye); the next start recovers."""
    pids = postgres_pids()
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    for pid in pids:
        _wait_gone(pid)


def _wait_gone(pid: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.05)


def outage_after(
    moment: Callable[[Run], Coroutine[Any, Any, str]],
    kill: Callable[[], None],
    start: Callable[[], Any],
    what: str,
) -> Fault:
    """Wait for ``moment`` (which says what it caught), kill, stay down, start again."""

    async def fault(run: Run) -> None:
        await run.at_fraction(0.25)
        seconds = float(os.environ.get("FAULT_OUTAGE_S", "10"))
        caught = await moment(run)
        await asyncio.to_thread(kill)
        run.note(f"{what} killed with SIGKILL ({caught})")
        await asyncio.sleep(seconds)
        await asyncio.to_thread(start)
        run.note(f"{what} started again")

    return fault


async def any_time(run: Run) -> str:
    return "under load"


async def relay_publishing(run: Run) -> str:
    """Until Kafka holds records ingest's outbox has not marked sent (up to 30 s)."""
    async with stores.publish_watch(run.cluster) as excess:
        baseline = await excess()
        deadline = time.monotonic() + 30.0
        while time.monotonic() < deadline:
            if await excess() > baseline:
                return "the relay had published and not yet marked"
    return "window not seen"


async def consumer_committing(run: Run) -> str:
    """Until a consumer's COMMIT is in flight in PostgreSQL (up to 20 s); failing that, until a
    consumer is inside a transaction (up to 10 s more)."""
    databases = [run.cluster.database(s) for s in CONSUMERS]
    conn = await asyncpg.connect(INFRA.dsn("postgres"))
    looks = {
        "a COMMIT in flight": "state = 'active' AND query = 'COMMIT'",
        "inside a transaction (no COMMIT caught)": "xact_start IS NOT NULL",
    }
    try:
        for (what, where), seconds in zip(looks.items(), (20.0, 10.0), strict=True):
            deadline = time.monotonic() + seconds
            while time.monotonic() < deadline:
                found = await conn.fetchval(
                    f"SELECT datname FROM pg_stat_activity WHERE {where}"
                    " AND datname = ANY($1::text[]) AND pid <> pg_backend_pid() LIMIT 1",
                    databases,
                )
                if found:
                    return f"{what} of {found.rsplit('_', 1)[-1]}"
    finally:
        await conn.close()
    return "no consumer transaction seen"


async def rebalance_kill(run: Run) -> None:
    """A second worker of each consumer joins; while the groups rebalance, the first workers
    are killed with -9 and restarted; the second ones leave 10 s later."""
    await run.at_fraction(0.2)
    for service in CONSUMERS:
        run.cluster.start(service, "worker", instance=1)
    run.note("a second worker of each consumer joined")
    await asyncio.sleep(1.0)  # joining: the group is rebalancing
    for service in CONSUMERS:
        run.cluster.kill(service, "worker")
        run.cluster.start(service, "worker")
    run.note("the first workers killed with -9 during the rebalance, restarted")
    await asyncio.sleep(10.0)
    for service in CONSUMERS:
        run.cluster.stop(service, "worker", instance=1)
    run.note("the second workers left (SIGTERM)")


async def _timed_fault(fault: Fault, run: Run) -> None:
    await fault(run)
    run.fault_ended = time.time()


async def _describe(topic: str) -> list[dict[str, Any]]:
    """``topic``'s partitions as the cluster sees them: ``partition``, ``leader``, ``isr``."""
    admin = AIOKafkaAdminClient(bootstrap_servers=INFRA.bootstrap, request_timeout_ms=10_000)
    await admin.start()
    try:
        [described] = await admin.describe_topics([topic])
        return list(described["partitions"])
    finally:
        await admin.close()


async def _coordinator(group: str) -> int:
    admin = AIOKafkaAdminClient(bootstrap_servers=INFRA.bootstrap, request_timeout_ms=10_000)
    await admin.start()
    try:
        return int(await admin.find_coordinator(group))
    finally:
        await admin.close()


async def _lead_most(topic: str) -> tuple[int, int, int]:
    """The broker that leads most of ``topic``'s partitions, how many, and of how many."""
    partitions = await _describe(topic)
    [(node, led)] = Counter(p["leader"] for p in partitions).most_common(1)
    return int(node), led, len(partitions)


async def _wait_isr(topic: str, node: int, *, inside: bool, timeout: float) -> float | None:
    """Seconds until ``node`` is in every ISR of ``topic`` (``inside``) or in none; None if
    that did not happen within ``timeout``."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        with contextlib.suppress(Exception):
            isrs = [set(p["isr"]) for p in await _describe(topic)]
            if all((node in isr) == inside for isr in isrs):
                return round(time.monotonic() - started, 1)
        await asyncio.sleep(1.0)
    return None


def _outage_s() -> float:
    return float(os.environ.get("FAULT_OUTAGE_S", "10"))


async def _kill_broker(node: int) -> None:
    await asyncio.to_thread(INFRA.kafka_cluster.kill_broker, node)


async def _start_broker(node: int) -> None:
    await asyncio.to_thread(INFRA.kafka_cluster.start_broker, node)


async def broker_kill_leader(run: Run) -> None:
    """kill -9 of the broker leading most of orders.v1's partitions while orders arrive."""
    await run.at_fraction(0.25)
    node, led, total = await _lead_most(run.cluster.topic("orders.v1"))
    await _kill_broker(node)
    run.note(f"kill -9 broker {node} (leader of {led} of {total} orders.v1 partitions)")
    await asyncio.sleep(_outage_s())
    await _start_broker(node)
    run.note(f"broker {node} started again")


async def broker_out_of_sync(run: Run) -> None:
    """A broker down until it has left every ISR of orders.v1, then the outage, then back
    until it has caught up into every ISR again."""
    await run.at_fraction(0.25)
    topic, node = run.cluster.topic("orders.v1"), BROKERS
    await _kill_broker(node)
    run.note(f"kill -9 broker {node}")
    out = await _wait_isr(topic, node, inside=False, timeout=60.0)
    run.note(f"broker {node} out of every orders.v1 ISR after {out} s")
    if out is None:
        run.violations.append(f"broker {node} never left the ISRs of orders.v1")
    await asyncio.sleep(_outage_s())
    await _start_broker(node)
    back = await _wait_isr(topic, node, inside=True, timeout=120.0)
    run.note(f"broker {node} started again; back in every ISR after {back} s")
    if back is None:
        run.violations.append(f"broker {node} did not rejoin the ISRs of orders.v1 in 120 s")


async def coordinator_kill_rebalance(run: Run) -> None:
    """A second worker of each consumer joins; during the rebalance the broker coordinating
    fulfillment's group is killed with -9; it comes back after the outage."""
    await run.at_fraction(0.2)
    for service in CONSUMERS:
        run.cluster.start(service, "worker", instance=1)
    run.note("a second worker of each consumer joined")
    await asyncio.sleep(1.0)  # joining: the groups are rebalancing
    node = await _coordinator(run.cluster.group("fulfillment"))
    await _kill_broker(node)
    run.note(f"kill -9 broker {node}, fulfillment's group coordinator, during the rebalance")
    await asyncio.sleep(_outage_s())
    await _start_broker(node)
    run.note(f"broker {node} started again")
    await asyncio.sleep(5.0)
    for service in CONSUMERS:
        run.cluster.stop(service, "worker", instance=1)
    run.note("the second workers left (SIGTERM)")


async def two_brokers_down(run: Run) -> None:
    """Two of three brokers killed: no write may be taken on one replica (orders.v1 must not
    grow once they are fenced) and ingest's relay must say so (/readyz 503 with Retry-After);
    one broker back must be enough for everything to flow again."""
    await run.at_fraction(0.25)
    topic = run.cluster.topic("orders.v1")
    first, _, _ = await _lead_most(topic)
    second = next(n for n in range(1, BROKERS + 1) if n != first)
    await _kill_broker(first)
    await _kill_broker(second)
    run.note(f"kill -9 brokers {first} and {second}")
    out = await _wait_isr(topic, second, inside=False, timeout=60.0)
    before = await stores.topic_messages(INFRA.bootstrap, topic)
    run.note(f"fenced after {out} s; orders.v1 holds {before} records")
    said = await _relay_refuses(run, float(os.environ.get("FAULT_TWO_DOWN_S", "45")))
    run.note(f"ingest relay /readyz: {said}")
    after = await stores.topic_messages(INFRA.bootstrap, topic)
    if after != before:
        run.violations.append(f"orders.v1 grew from {before} to {after} with one broker up")
    if not said.startswith("503"):
        run.violations.append(f"ingest relay never answered 503 with Retry-After: {said}")
    await _start_broker(second)
    run.note(f"broker {second} started again (two of three up)")
    await asyncio.sleep(_outage_s())
    await _start_broker(first)
    run.note(f"broker {first} started again")


async def _relay_refuses(run: Run, seconds: float) -> str:
    """Look at ingest relay's /readyz for ``seconds``: the first not-ready answer (status,
    Retry-After, when), else the last answer."""
    port = run.cluster.ops["ingest-relay"]
    started, refused, said = time.monotonic(), "", "never answered"
    async with httpx.AsyncClient(timeout=5) as client:
        while time.monotonic() - started < seconds:
            with contextlib.suppress(httpx.HTTPError):
                answer = await client.get(f"http://127.0.0.1:{port}/readyz")
                retry = answer.headers.get("retry-after")
                said = f"{answer.status_code} Retry-After {retry}"
                if not refused and answer.status_code == 503 and retry:
                    refused = f"{said} after {time.monotonic() - started:.0f} s"
            await asyncio.sleep(1.0)
    return refused or said


CLUSTER_SCENARIOS: dict[str, Fault] = {
    "broker-kill-leader": broker_kill_leader,
    "broker-out-of-sync": broker_out_of_sync,
    "coordinator-kill-rebalance": coordinator_kill_rebalance,
    "two-brokers-down": two_brokers_down,
}

SCENARIOS: dict[str, Fault] = {
    "consumer-kill": consumer_kill,
    "relay-kill": relay_kill,
    "kafka-restart": outage(INFRA.kafka.stop, INFRA.kafka.start, "Kafka"),
    "postgres-restart": outage(INFRA.postgres.stop, INFRA.postgres.start, "PostgreSQL"),
    "postgres-crash": outage(
        functools.partial(INFRA.postgres.stop, mode="immediate"),
        INFRA.postgres.start,
        "PostgreSQL (aborted)",
    ),
    "rebalance": rebalance,
    "kafka-kill": outage_after(any_time, kill_kafka, INFRA.kafka.start, "Kafka"),
    "kafka-kill-publishing": outage_after(relay_publishing, kill_kafka, INFRA.kafka.start, "Kafka"),
    "postgres-kill-committing": outage_after(
        consumer_committing, kill_postgres, INFRA.postgres.start, "PostgreSQL"
    ),
    "rebalance-kill": rebalance_kill,
}
if BROKERS > 1:
    # The single-broker faults stop or kill "the broker"; a cluster runs its own.
    SCENARIOS = CLUSTER_SCENARIOS


@dataclass(frozen=True)
class Observed:
    """What a scenario saw: the load generator's result, when the fault ended, when the stores
    were complete, and the stores', ingest's and the processes' state at the end."""

    load: LoadResult
    fault_end: float
    done: stores.Completion
    readiness: dict[str, str]  # every worker's and relay's /readyz
    checks: list[stores.StoreCheck]
    ingest: dict[str, int]
    published: int  # records on orders.v1
    dead: list[str]
    restarts: dict[str, int]
    stalls: dict[str, int]  # looks at which each process said it was stalled

    @property
    def accepted(self) -> int:
        return len(self.load.accepted)


@dataclass(frozen=True)
class ScenarioResult:
    scenario: str
    passed: bool
    orders: int
    accepted: int
    found: dict[str, int]
    rows: dict[str, int]
    duplicates: dict[str, int]
    dead_letters: dict[str, int]
    orders_v1_records: int
    republished_by_relay: int
    statuses: dict[str, int]
    retries: int
    load_seconds: float
    recovery_s: float | None  # from the fault's end to every store complete
    drain_after_load_s: float | None
    settle_s: float | None  # from the later of the fault's end and the load's
    recovery_bound_s: float
    stalled_looks: dict[str, int]
    restarts: dict[str, int]
    events: list[str]
    failures: list[str]
    tag: str
    attempt: int


@dataclass(frozen=True)
class Bounds:
    """How long a scenario's stores may take: to complete at all (``FAULT_TIMEOUT_S``), and
    after the fault and the load (``FAULT_RECOVERY_S``)."""

    timeout_s: float
    recovery_s: float

    @classmethod
    def from_env(cls) -> Bounds:
        return cls(
            timeout_s=float(os.environ.get("FAULT_TIMEOUT_S", "300")),
            recovery_s=float(os.environ.get("FAULT_RECOVERY_S", "120")),
        )


async def scenario(
    name: str, fault: Fault, n: int, rate: float, batch: int, attempt: int = 1
) -> ScenarioResult:
    INFRA.start()  # a previous scenario may have left a server stopped
    tag = f"f{int(time.time())}_{name.split('-')[0]}"
    cluster = FaultCluster(
        INFRA, tag, extra_env={"STALL_SECONDS": os.environ.get("FAULT_STALL_S", "30")}
    )
    cluster.create()
    cluster.start_all(LAYOUT)
    bounds = Bounds.from_env()
    run, seen = await _under_fault(cluster, fault, n, rate, batch, bounds)
    failures = _failures(seen, n, bounds) + run.violations
    for proc_name in seen.dead:
        run.note(f"{proc_name} log tail: {tail(cluster.log_dir / (proc_name + '.log'), 8)}")
    return _result(name, seen, n, bounds, run.events, failures, tag, attempt)


async def _under_fault(
    cluster: FaultCluster, fault: Fault, n: int, rate: float, batch: int, bounds: Bounds
) -> tuple[Run, Observed]:
    """The load with ``fault`` injected, then the wait for every store to hold every accepted
    order, and what the stores, ingest and the processes say at the end; the cluster is
    stopped and dropped afterwards."""
    stalls: dict[str, int] = {}
    watcher = asyncio.create_task(watch_stalls(cluster, stalls))
    try:
        await asyncio.sleep(3)  # workers join their groups
        load = LoadProcess(_load_spec(cluster, n, rate, batch), cluster.log_dir)
        run = Run(cluster, load, n, rate)
        fault_task = asyncio.create_task(_timed_fault(fault, run))
        result = await load.wait()
        run.note(f"load done: {len(result.accepted)} accepted")
        await fault_task
        fault_end = run.fault_ended or time.time()
        accepted = set(result.accepted)
        done = await stores.wait_complete(cluster, len(accepted), timeout=bounds.timeout_s)
        seen = Observed(
            load=result,
            fault_end=fault_end,
            done=done,
            readiness=await _ready_at_end(cluster),
            checks=[await stores.check_store(cluster, s, accepted) for s in CONSUMERS],
            ingest=await stores.ingest_facts(cluster),
            published=await stores.topic_messages(INFRA.bootstrap, cluster.topic("orders.v1")),
            dead=cluster.dead(),
            restarts={p.name: p.restarts for p in cluster.procs.values() if p.restarts},
            stalls=stalls,
        )
    finally:
        watcher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watcher
        cluster.stop_all()
        with contextlib.suppress(Exception):
            cluster.drop()  # a repeat of every scenario would leave gigabytes of databases
    return run, seen


def _load_spec(cluster: FaultCluster, n: int, rate: float, batch: int) -> LoadSpec:
    return LoadSpec(
        url=cluster.ingest_url,
        api_key=API_KEY,
        orders=n,
        id_prefix=f"{int(time.time()) % 10_000_000:07d}",
        batch_size=batch,
        rate=rate,
        in_flight=4,
    )


def _settle_s(seen: Observed) -> float | None:
    """Seconds from the later of the fault's end and the load's to every store complete."""
    settled = max(seen.fault_end, seen.load.finished)
    return round(seen.done.done_at - settled, 2) if seen.done.done_at else None


def _failures(seen: Observed, n: int, bounds: Bounds) -> list[str]:
    """Every way the scenario lost, duplicated or stalled: empty when it passed."""
    result, accepted, done = seen.load, seen.accepted, seen.done
    failures: list[str] = []
    bad_status = {
        s: c for s, c in result.statuses.items() if s.isdigit() and int(s) >= 500 and s != "503"
    }
    if accepted != n or result.given_up:
        failures.append(f"accepted {accepted} of {n}; gave up {len(result.given_up)}")
    if bad_status:
        failures.append(f"5xx other than 503: {bad_status} {result.unexpected[:3]}")
    failures += [f"{c.service}: {c}" for c in seen.checks if not c.ok(accepted)]
    if done.lag_zero_at is None:
        failures.append(
            f"not complete after {bounds.timeout_s:.0f}s: {done.counts}, lag {done.lags}"
        )
    settle_s = _settle_s(seen)
    if settle_s is not None and settle_s > bounds.recovery_s:
        failures.append(
            f"complete {settle_s} s after the fault and the load, over {bounds.recovery_s:g} s"
        )
    not_ready = {name: said for name, said in seen.readiness.items() if said != "ok"}
    if not_ready:
        failures.append(f"not ready at the end: {not_ready}")
    if seen.ingest["unsent_outbox"] or seen.ingest["order_events"] != accepted:
        failures.append(f"ingest: {seen.ingest}")
    if seen.dead:
        failures.append(f"processes died on their own: {seen.dead}")
    return failures


def _result(
    name: str,
    seen: Observed,
    n: int,
    bounds: Bounds,
    events: list[str],
    failures: list[str],
    tag: str,
    attempt: int,
) -> ScenarioResult:
    result, done, checks = seen.load, seen.done, seen.checks
    return ScenarioResult(
        scenario=name,
        passed=not failures,
        orders=n,
        accepted=seen.accepted,
        found={c.service: c.found for c in checks},
        rows={c.service: c.rows for c in checks},
        duplicates={c.service: c.duplicate_rows + c.duplicate_effects for c in checks},
        dead_letters={c.service: c.dead_letters for c in checks},
        orders_v1_records=seen.published,
        republished_by_relay=seen.published - seen.accepted,
        statuses=dict(result.statuses),
        retries=result.retries,
        load_seconds=round(result.finished - result.started, 1),
        recovery_s=round(done.done_at - seen.fault_end, 2) if done.done_at else None,
        drain_after_load_s=round(done.done_at - result.finished, 2) if done.done_at else None,
        settle_s=_settle_s(seen),
        recovery_bound_s=bounds.recovery_s,
        stalled_looks=seen.stalls,
        restarts=seen.restarts,
        events=events,
        failures=failures,
        tag=tag,
        attempt=attempt,
    )


async def _ready_at_end(cluster: FaultCluster, timeout: float = 30.0) -> dict[str, str]:
    """Every worker's and relay's /readyz once the stores are complete (given ``timeout`` for
    the last relay round to be counted)."""
    deadline = time.monotonic() + timeout
    while True:
        found = await readiness(cluster)
        if all(said == "ok" for said in found.values()) or time.monotonic() > deadline:
            return found
        await asyncio.sleep(1.0)


def line(result: ScenarioResult) -> str:
    verdict = "PASS" if result.passed else "FAIL"
    return (
        f"{verdict} {result.scenario:<17} accepted {result.accepted}, "
        f"found {result.found}, "
        f"duplicates {result.duplicates}, recovery {result.recovery_s} s after the fault "
        f"({result.drain_after_load_s} s after the load; bound {result.recovery_bound_s:g} s"
        f" from the later: {result.settle_s} s), stalled looks {result.stalled_looks}, "
        f"statuses {result.statuses}, relay re-sent {result.republished_by_relay}"
    )


@dataclass(frozen=True)
class Plan:
    """What ``make faults`` runs, from the environment (the module docstring has each
    variable)."""

    orders: int  # FAULT_ORDERS
    rate: float  # FAULT_RATE
    batch: int  # FAULT_BATCH
    repeat: int  # FAULT_REPEAT
    scenarios: list[str]  # FAULT_SCENARIOS

    @classmethod
    def from_env(cls) -> Plan:
        wanted = os.environ.get("FAULT_SCENARIOS", ",".join(SCENARIOS)).split(",")
        names = [w.strip() for w in wanted if w.strip()]
        unknown = [name for name in names if name not in SCENARIOS]
        if unknown:
            raise SystemExit(f"unknown scenarios {unknown}; known: {', '.join(SCENARIOS)}")
        return cls(
            orders=int(os.environ.get("FAULT_ORDERS", "10000")),
            rate=float(os.environ.get("FAULT_RATE", "200")),
            batch=int(os.environ.get("FAULT_BATCH", "100")),
            repeat=int(os.environ.get("FAULT_REPEAT", "1")),
            scenarios=names,
        )


@dataclass(frozen=True)
class Range:
    min: float
    median: float
    max: float
    missing: int  # runs without the figure


@dataclass(frozen=True)
class ScenarioSummary:
    runs: int
    passed: int
    bound_s: float
    settle_s: Range | None
    recovery_s: Range | None


@dataclass(frozen=True)
class Report:
    """``make faults``' document."""

    faults: list[ScenarioResult]
    summary: dict[str, ScenarioSummary]
    passed: bool
    orders: int
    rate: float
    repeat: int
    machine: Machine


async def run_all() -> Report:
    plan = Plan.from_env()
    results = []
    was_running = INFRA.is_running()
    try:
        for name in plan.scenarios:
            for attempt in range(1, plan.repeat + 1):
                results.append(await _attempt(plan, name, attempt))
    finally:
        if not was_running:  # leave the machine as we found it
            INFRA.stop()
    summary = summarize(results)
    for name, row in summary.items():
        print(
            f"{name:<25} passed {row.passed}/{row.runs}; settled after the fault and the"
            f" load in {jsonable(row.settle_s)} s (bound {row.bound_s:g} s); recovery after the"
            f" fault {jsonable(row.recovery_s)} s",
            flush=True,
        )
    return Report(
        faults=results,
        summary=summary,
        passed=all(r.passed for r in results),
        orders=plan.orders,
        rate=plan.rate,
        repeat=plan.repeat,
        machine=machine(),
    )


async def _attempt(plan: Plan, name: str, attempt: int) -> ScenarioResult:
    """One run of scenario ``name``, printed as it ends: its events, failures and verdict."""
    n, rate = plan.orders, plan.rate
    print(f"... {name} ({attempt}/{plan.repeat}): {n} orders at {rate:g}/s", flush=True)
    result = await scenario(name, SCENARIOS[name], n, rate, plan.batch, attempt)
    for event in result.events:
        print(f"    {event}", flush=True)
    for failure in result.failures:
        print(f"    ! {failure}", flush=True)
    print(line(result), flush=True)
    return result


def summarize(results: list[ScenarioResult]) -> dict[str, ScenarioSummary]:
    """Per scenario: runs, passes, and the settle and recovery times (min, median, max)."""
    summary: dict[str, ScenarioSummary] = {}
    for name in dict.fromkeys(r.scenario for r in results):
        runs = [r for r in results if r.scenario == name]
        summary[name] = ScenarioSummary(
            runs=len(runs),
            passed=sum(r.passed for r in runs),
            bound_s=runs[0].recovery_bound_s,
            settle_s=_range([r.settle_s for r in runs]),
            recovery_s=_range([r.recovery_s for r in runs]),
        )
    return summary


def _range(values: list[float | None]) -> Range | None:
    known = [v for v in values if v is not None]
    if not known:
        return None
    return Range(
        min=min(known),
        median=round(statistics.median(known), 2),
        max=max(known),
        missing=len(values) - len(known),
    )


def main() -> None:
    report = asyncio.run(run_all())
    print(save("faults", report))
    sys.exit(0 if report.passed else 1)


if __name__ == "__main__":
    main()
