"""A private Orderflow cluster for benchmarks and fault scenarios.

``Infra`` is a Kafka broker and a PostgreSQL server of our own (under ``.run/<name>/`` on their
own ports), apart from ``make up``'s, because fault scenarios stop and restart them.
``Cluster`` runs the services on it, one OS process per (service, role, instance), on fresh
databases and a fresh topic prefix, and can kill, restart and measure each process.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from bench.common import ROOT, free_port
from devstack import config
from devstack.kafka import KafkaServer
from devstack.kafka_cluster import KafkaCluster, broker_ports
from devstack.postgres import PostgresServer, run_psql

SERVICES = ("ingest", "fulfillment", "defects", "analytics")
CONSUMERS = ("fulfillment", "defects", "analytics")
API_KEY = "bench-seller"
# How a run lays the services out: one process each (``python -m <svc> all``, as ``make up``
# runs them), or one process per role and service (``api``, ``worker``, ``relay``), as
# ``deploy/k8s`` runs them.
LAYOUTS: dict[str, list[tuple[str, str]]] = {
    "all": [(s, "all") for s in SERVICES],
    "roles": [(s, r) for s in SERVICES for r in ("api", "worker", "relay")],
}
KEYS = "bench-seller=seller:A2SELLERBENCH,bench-ops=ops"

# What each service consumes (logical topics): the consumer groups whose lag is checked.
SUBSCRIBES = {
    "fulfillment": ("orders.v1",),
    "defects": ("orders.v1", "fulfillment.v1"),
    "analytics": ("orders.v1", "fulfillment.v1", "defects.v1", "ads.v1"),
}


@dataclass
class Infra:
    """Kafka and PostgreSQL under ``.run/<name>/``; ``start`` is idempotent."""

    name: str
    kafka_port: int
    controller_port: int
    postgres_port: int
    postgres_dir: str = "postgres"  # under run_dir
    # 3: a cluster of three brokers (on kafka_port, +2, +4) and a controller on
    # controller_port instead of the one combined node (docs/adr/0047).
    brokers: int = 1

    @property
    def run_dir(self) -> Path:
        return ROOT / ".run" / self.name

    @property
    def kafka(self) -> KafkaServer:
        """The broker, restarted on the data it had (``make faults`` restarts it mid-run)."""
        return self._kafka(fresh=False)

    def _kafka(self, *, fresh: bool) -> KafkaServer:
        return KafkaServer(
            self.run_dir / "kafka", self.kafka_port, self.controller_port, fresh=fresh
        )

    @property
    def kafka_cluster(self) -> KafkaCluster:
        """The three brokers and their controller (``brokers`` 3), restarted on their data."""
        return self._cluster(fresh=False)

    def _cluster(self, *, fresh: bool) -> KafkaCluster:
        return KafkaCluster(
            self.run_dir / "kafka-cluster",
            broker_ports(self.kafka_port, self.brokers),
            self.controller_port,
            fresh=fresh,
        )

    @property
    def bootstrap(self) -> str:
        return self.kafka_cluster.bootstrap if self.brokers > 1 else self.kafka.bootstrap

    @property
    def replication_factor(self) -> int:
        return self.kafka_cluster.replication_factor if self.brokers > 1 else 1

    @property
    def postgres(self) -> PostgresServer:
        # Every autovacuum run in the log: bench/activity.py reads it to explain a slow run.
        return PostgresServer(
            self.run_dir / self.postgres_dir, self.postgres_port, log_autovacuum_ms=0
        )

    def is_running(self) -> bool:
        kafka = self.kafka_cluster if self.brokers > 1 else self.kafka
        return kafka.is_running() and self.postgres.is_running()

    def start(self) -> None:
        """Start what is not running. A broker started here begins on empty storage, so the
        topics of earlier runs do not pile up; nor do their databases (``start_postgres``)."""
        if self.brokers > 1:
            self._cluster(fresh=True).start()
        else:
            self._kafka(fresh=True).start()
        self.start_postgres()

    def start_postgres(self) -> bool:
        """Start PostgreSQL unless it runs; True if this call started it. A server started
        here drops the databases earlier runs left (nobody can be using them yet): runs never
        dropped their own, and a full ``make bench`` leaves about 10 GB."""
        started = self.postgres.start()
        if started:
            self.postgres.drop_databases()
        return started

    def stop(self) -> None:
        self.kafka_cluster.stop()
        self.kafka.stop()
        self.postgres.stop()

    def dsn(self, database: str) -> str:
        return str(self.postgres.url(database, driver="postgresql"))


@dataclass
class Proc:
    service: str
    role: str
    instance: int
    popen: subprocess.Popen[bytes]
    log: Path
    restarts: int = 0

    @property
    def name(self) -> str:
        suffix = f"#{self.instance}" if self.instance else ""
        return f"{self.service}-{self.role}{suffix}"

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def rss_kib(self) -> int | None:
        return rss_kib(self.pid)


def rss_kib(pid: int | str = "self") -> int | None:
    """A process's resident memory (``VmRSS``) in KiB; None once it is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except (FileNotFoundError, ProcessLookupError):
        return None
    return None


@dataclass
class Cluster:
    """The four services on ``infra`` with databases ``<tag>_<service>`` and prefix ``<tag>.``."""

    infra: Infra
    tag: str
    extra_env: dict[str, str] = field(default_factory=dict)
    procs: dict[tuple[str, str, int], Proc] = field(default_factory=dict)
    ports: dict[str, int] = field(default_factory=dict)

    @property
    def prefix(self) -> str:
        return f"{self.tag}."

    def database(self, service: str) -> str:
        return f"{self.tag}_{service}"

    def dsn(self, service: str) -> str:
        return self.infra.dsn(self.database(service))

    @property
    def log_dir(self) -> Path:
        return self.infra.run_dir / "logs" / self.tag

    @property
    def ingest_url(self) -> str:
        return self.url("ingest")

    def url(self, service: str) -> str:
        return f"http://127.0.0.1:{self.ports[service]}"

    def topic(self, name: str) -> str:
        return f"{self.prefix}{name}"

    def group(self, service: str) -> str:
        return f"{self.prefix}orderflow-{service}"

    def env(self, service: str) -> dict[str, str]:
        if service not in self.ports:
            self.ports[service] = free_port()
        urls = ",".join(f"{s}={self.url(s)}" for s in self.ports)
        return {
            **os.environ,
            "DATABASE_URL": self.infra.postgres.url(self.database(service)),
            "KAFKA_BOOTSTRAP_SERVERS": self.infra.bootstrap,
            "KAFKA_REPLICATION_FACTOR": str(self.infra.replication_factor),
            "KAFKA_TOPIC_PREFIX": self.prefix,
            "HTTP_PORT": str(self.ports[service]),
            "ORDERFLOW_API_KEYS": KEYS,
            "ORDERFLOW_PII_KEY": config.pii_key(),
            "ORDERFLOW_SERVICE_URLS": urls,
            "LOG_LEVEL": "WARNING",
            "RATE_LIMIT_PER_SECOND": "1000000",
            "RATE_LIMIT_BURST": "1000000",
            **self.extra_env,
        }

    def create(self) -> None:
        """Fresh databases, migrated (in parallel)."""
        for service in SERVICES:
            self.infra.postgres.create_database(self.database(service))
            self.env(service)  # assigns the port
        with ThreadPoolExecutor(len(SERVICES)) as pool:
            for result in pool.map(self._migrate, SERVICES):
                if result.returncode != 0:
                    raise RuntimeError(f"migrate failed:\n{result.stderr.decode()[-3000:]}")

    def drop(self) -> None:
        """Drop this cluster's databases (its processes stopped)."""
        for service in SERVICES:
            run_psql(
                self.infra.postgres.server_url,
                f'DROP DATABASE IF EXISTS "{self.database(service)}"',
            )

    def _migrate(self, service: str) -> subprocess.CompletedProcess[bytes]:
        return subprocess.run(
            [sys.executable, "-m", service, "migrate"],
            env=self.env(service),
            capture_output=True,
            cwd=ROOT,
            check=False,
        )

    def start(self, service: str, role: str, instance: int = 0) -> Proc:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        key = (service, role, instance)
        previous = self.procs.get(key)
        suffix = f"-{instance}" if instance else ""
        log = self.log_dir / f"{service}-{role}{suffix}.log"
        with log.open("ab") as out:
            popen = subprocess.Popen(
                [sys.executable, "-m", service, role],
                env=self.env(service),
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=ROOT,
            )
        proc = Proc(service, role, instance, popen, log)
        if previous is not None:
            proc.restarts = previous.restarts + 1
        self.procs[key] = proc
        return proc

    def start_all(self, layout: Iterable[tuple[str, str]]) -> None:
        for service, role in layout:
            self.start(service, role)
        for service, role in layout:
            if role in ("api", "all"):
                self.wait_ready(service)

    def wait_ready(self, service: str, timeout: float = 180.0) -> None:
        # 180 s: twelve processes (BENCH_LAYOUT=roles) starting at once on a busy 2-core
        # machine took over 90 s to answer /readyz.
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for proc in self.procs.values():
                if proc.service == service and not proc.alive():
                    raise RuntimeError(f"{proc.name} exited:\n{tail(proc.log)}")
            try:
                if httpx.get(f"{self.url(service)}/readyz", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        raise TimeoutError(f"{service} not ready at {self.url(service)}")

    def kill(self, service: str, role: str, instance: int = 0, sig: int = signal.SIGKILL) -> None:
        proc = self.procs[(service, role, instance)]
        if proc.alive():
            proc.popen.send_signal(sig)
        proc.popen.wait(timeout=60)

    def restart(self, service: str, role: str, instance: int = 0) -> Proc:
        self.kill(service, role, instance)
        return self.start(service, role, instance)

    def stop(self, service: str, role: str, instance: int = 0) -> None:
        """A clean stop (SIGTERM), then forget the process."""
        self.kill(service, role, instance, signal.SIGTERM)
        del self.procs[(service, role, instance)]

    def stop_all(self) -> None:
        for proc in self.procs.values():
            if proc.alive():
                proc.popen.terminate()
        for proc in self.procs.values():
            try:
                proc.popen.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.popen.kill()
                proc.popen.wait()
        self.procs.clear()

    def dead(self) -> list[str]:
        return [p.name for p in self.procs.values() if not p.alive()]

    def rss(self) -> dict[str, int | None]:
        return {p.name: p.rss_kib() for p in self.procs.values()}


def _slope(points: list[tuple[float, float]]) -> float:
    """Least-squares slope of (x, y) points (0 with fewer than two)."""
    if len(points) < 2:
        return 0.0
    mx = sum(x for x, _ in points) / len(points)
    my = sum(y for _, y in points) / len(points)
    var = sum((x - mx) ** 2 for x, _ in points)
    return sum((x - mx) * (y - my) for x, y in points) / var if var else 0.0


def tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except FileNotFoundError:
        return ""


@dataclass(frozen=True)
class RssTrend:
    """A process's RSS (MiB) at the end of each minute, and its growth over the second half of
    the run in MiB per minute."""

    per_minute_mib: list[int | None]
    second_half_mib_per_min: float


class MemoryWatch:
    """RSS of each process at start, middle and end of a run (and the peak seen)."""

    def __init__(self, cluster: Cluster) -> None:
        self.cluster = cluster
        self.samples: list[tuple[float, dict[str, int | None]]] = []

    def sample(self) -> None:
        self.samples.append((time.time(), self.cluster.rss()))

    def report(self) -> dict[str, dict[str, int | None]]:
        if not self.samples:
            return {}
        picks = {
            "start": self.samples[0][1],
            "middle": self.samples[len(self.samples) // 2][1],
            "end": self.samples[-1][1],
        }
        names = {name for _, rss in self.samples for name in rss}
        out: dict[str, dict[str, int | None]] = {}
        for name in sorted(names):
            values = [rss.get(name) for _, rss in self.samples]
            seen = [v for v in values if v is not None]
            out[name] = {
                **{f"{k}_mib": _mib(v.get(name)) for k, v in picks.items()},
                "peak_mib": _mib(max(seen)) if seen else None,
            }
        return out

    def trend(self) -> dict[str, RssTrend]:
        """Per process: RSS (MiB) at the end of each minute, and the growth over the second
        half of the run (after warm-up), in MiB per minute (least squares)."""
        if not self.samples:
            return {}
        t0, t_end = self.samples[0][0], self.samples[-1][0]
        half = t0 + (t_end - t0) / 2
        names = {name for _, rss in self.samples for name in rss}
        out: dict[str, RssTrend] = {}
        for name in sorted(names):
            series = [(t, kib) for t, rss in self.samples if (kib := rss.get(name)) is not None]
            minutes: dict[int, int] = {}
            for t, kib in series:
                minutes[int((t - t0) // 60)] = kib
            late = [((t - t0) / 60, kib / 1024) for t, kib in series if t >= half]
            out[name] = RssTrend(
                per_minute_mib=[_mib(v) for _, v in sorted(minutes.items())],
                second_half_mib_per_min=round(_slope(late), 2),
            )
        return out


def _mib(kib: int | None) -> int | None:
    return None if kib is None else round(kib / 1024)


def _stat(path: str | Path) -> tuple[str, list[str]] | None:
    """A ``/proc/.../stat`` file as (the command or thread name, the fields after it: state,
    ppid, ...); None once the process or thread is gone."""
    try:
        raw = Path(path).read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    head, _, rest = raw.rpartition(")")
    return head.partition("(")[2], rest.split()


def _cpu_of(pid: int) -> tuple[float, float, int]:
    """(own CPU seconds, CPU seconds of reaped children, parent pid) from ``/proc/<pid>/stat``."""
    stat = _stat(f"/proc/{pid}/stat")
    if stat is None:
        return 0.0, 0.0, 0
    fields = stat[1]
    tick = os.sysconf("SC_CLK_TCK")
    own = (int(fields[11]) + int(fields[12])) / tick  # utime, stime
    reaped = (int(fields[13]) + int(fields[14])) / tick  # cutime, cstime
    return own, reaped, int(fields[1])


def kafka_pid(infra: Infra) -> int | None:
    return _read_int(infra.kafka.pid_file)


def cpu_seconds(
    cluster: Cluster,
    extra: dict[str, int] | None = None,
    postgres: tuple[float, dict[int, tuple[str, float]]] | None = None,
) -> dict[str, float]:
    """CPU seconds used so far by each service process, the Kafka broker and PostgreSQL (the
    postmaster, its live backends and the backends that have exited), and ``extra`` pids.
    ``postgres``: what ``postgres_cpu`` just read, if the caller has it (a scan of ``/proc``)."""
    out = {p.name: _cpu_of(p.pid)[0] for p in cluster.procs.values()}
    broker = kafka_pid(cluster.infra)
    if broker:
        out["kafka"] = _cpu_of(broker)[0]
    if postgres is None:
        postgres = postgres_cpu(cluster.infra)
    if postgres is not None:
        postmaster, children = postgres
        out["postgres"] = postmaster + sum(cpu for _, cpu in children.values())
    for name, pid in (extra or {}).items():
        out[name] = _cpu_of(pid)[0]
    return out


def jit_seconds(pid: int | None) -> float:
    """CPU seconds a JVM's JIT compiler threads (``C1``/``C2 CompilerThread``) have used: a
    fresh broker compiles its hot paths for minutes, and that is part of ``kafka``'s CPU."""
    if not pid:
        return 0.0
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for task in Path(f"/proc/{pid}/task").glob("*/stat"):
        stat = _stat(task)
        if stat is not None and "CompilerThre" in stat[0]:  # the kernel keeps 15 characters
            total += int(stat[1][11]) + int(stat[1][12])  # utime, stime
    return total / tick


def postgres_cpu(infra: Infra) -> tuple[float, dict[int, tuple[str, float]]] | None:
    """PostgreSQL's CPU seconds so far: the postmaster's own and its exited children's, and per
    live child its process title (``postgres: <user> <database> <client> <state>`` for a
    backend, ``postgres: checkpointer`` and the like otherwise) and CPU seconds."""
    postmaster = _read_int(infra.postgres.data_dir / "postmaster.pid")
    if not postmaster:
        return None
    own, reaped, _ = _cpu_of(postmaster)
    children: dict[int, tuple[str, float]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            cpu, _, parent = _cpu_of(int(entry.name))
            if parent == postmaster:
                children[int(entry.name)] = (_title(int(entry.name)), cpu)
    return own + reaped, children


def backend_database(title: str) -> str | None:
    """The database of a backend, from its process title (``postgres: <user> <database>
    <client> <state>``); None for the server's own processes (checkpointer, autovacuum...)."""
    words = title.split()
    return words[2] if len(words) >= 3 and words[1] == config.POSTGRES_USER else None


def _title(pid: int) -> str:
    try:
        return (
            Path(f"/proc/{pid}/cmdline")
            .read_bytes()
            .replace(b"\0", b" ")
            .decode(errors="replace")
            .strip()
        )
    except (FileNotFoundError, ProcessLookupError):
        return ""


def _read_int(path: Path) -> int | None:
    try:
        first = path.read_text().split()[0]
    except (FileNotFoundError, IndexError):
        return None
    return int(first) if first.isdigit() else None
