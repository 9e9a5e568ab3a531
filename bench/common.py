"""Benchmark plumbing: the local stack, a service process, percentiles, the machine, results."""

from __future__ import annotations

import json
import os
import platform as host
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import httpx

from bench.report import OMIT, jsonable
from devstack import config
from devstack.platform import Platform, infra_down, infra_up

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
KEYS = "bench-seller=seller:A2SELLERBENCH,bench-ops=ops"


@dataclass(frozen=True)
class Percentiles:
    """Latency percentiles in milliseconds; none at all (an empty object) without samples."""

    p50_ms: float | None = field(default=None, metadata=OMIT)
    p95_ms: float | None = field(default=None, metadata=OMIT)
    p99_ms: float | None = field(default=None, metadata=OMIT)
    max_ms: float | None = field(default=None, metadata=OMIT)

    @property
    def empty(self) -> bool:
        """No samples: no figures."""
        return self.max_ms is None


def percentiles(samples: Sequence[float]) -> Percentiles:
    if not samples:
        return Percentiles()
    ordered = sorted(samples)

    def at(q: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000, 2)

    return Percentiles(
        p50_ms=at(0.50),
        p95_ms=at(0.95),
        p99_ms=at(0.99),
        max_ms=round(ordered[-1] * 1000, 2),
    )


@dataclass(frozen=True)
class Spread:
    """The median and range of figures that vary from run to run."""

    median: float
    min: float
    max: float


def spread(values: Sequence[float]) -> Spread:
    return Spread(median=round(statistics.median(values), 2), min=min(values), max=max(values))


@dataclass(frozen=True)
class Machine:
    cores: int | None
    memory_mib: int
    python: str
    platform: str
    kafka: str


def machine() -> Machine:
    mem = 0
    with open("/proc/meminfo") as meminfo:
        for line in meminfo:
            if line.startswith("MemTotal:"):
                mem = int(line.split()[1]) // 1024
    return Machine(
        cores=os.cpu_count(),
        memory_mib=mem,
        python=sys.version.split()[0],
        platform=host.platform(),
        kafka=config.KAFKA_VERSION,
    )


def steal_seconds() -> float:
    """CPU time the hypervisor gave other guests while this machine wanted it, so far (the
    ``steal`` column of ``/proc/stat``, all cores)."""
    with open("/proc/stat") as stat:
        fields = stat.readline().split()  # cpu user nice system idle iowait irq softirq steal
    return int(fields[8]) / os.sysconf("SC_CLK_TCK") if len(fields) > 8 else 0.0


def speed_probe_ms() -> float:
    """Milliseconds for a fixed piece of pure-Python work (best of five): the same build on
    the same machine took 36% more CPU for every process in one run than in the next, all
    processes alike, which is the machine, not the code. A run whose probe is slower than
    usual ran on a slower machine (a noisy neighbour on the host, a lower clock)."""
    best = float("inf")
    for _ in range(5):
        started = time.perf_counter()
        total = 0
        for i in range(200_000):
            total += i * i % 7
        best = min(best, time.perf_counter() - started)
    return round(best * 1000, 2)


@contextmanager
def local_stack() -> Iterator[Platform]:
    """The dev Kafka and PostgreSQL; stopped afterwards only if this run started them."""
    platform = Platform.from_env()
    was_running = platform.kafka.is_running() and platform.postgres.is_running()
    infra_up(platform)
    try:
        yield platform
    finally:
        if not was_running:
            infra_down(platform)


async def connect(dsn: str) -> asyncpg.Connection:
    """A plain asyncpg connection that plans every statement with its parameters, as the
    services' do (``shared.db.session``): a generic plan cached while a table was empty made
    the visibility probe scan the whole table, and it was most of PostgreSQL's work."""
    return await asyncpg.connect(
        dsn, timeout=5, server_settings={"plan_cache_mode": "force_custom_plan"}
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def service_process(platform: Platform, name: str, *, prefix: str) -> Iterator[dict[str, str]]:
    """``python -m <name> all`` on a fresh database and topic prefix; yields its env."""
    database = f"bench_{name}_{int(time.time())}"
    platform.postgres.create_database(database)
    env = {
        **os.environ,
        "DATABASE_URL": platform.postgres.url(database),
        "KAFKA_BOOTSTRAP_SERVERS": platform.kafka.bootstrap,
        "KAFKA_TOPIC_PREFIX": prefix,
        "HTTP_PORT": str(free_port()),
        "ORDERFLOW_API_KEYS": KEYS,
        "ORDERFLOW_PII_KEY": config.pii_key(),
        "LOG_LEVEL": "WARNING",
        "RATE_LIMIT_PER_SECOND": "1000000",
        "RATE_LIMIT_BURST": "1000000",
    }
    subprocess.run(
        [sys.executable, "-m", name, "migrate"], env=env, check=True, capture_output=True
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", name, "all"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    env["URL"] = f"http://127.0.0.1:{env['HTTP_PORT']}"
    try:
        _wait_ready(env["URL"])
        yield env
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def _wait_ready(url: str) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise RuntimeError(f"{url} did not become ready")


def save(name: str, report: object) -> str:
    """Write the report (typed results, and dicts and lists of them) under bench/results/ and
    return its one-line JSON."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    line = json.dumps(jsonable(report), sort_keys=True)
    (RESULTS / f"{name}-{stamp}.json").write_text(line + "\n")
    return line
