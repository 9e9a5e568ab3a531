"""The newcomer's path: a clone in a fresh ``mktemp -d`` directory (mode 0700), a PATH with only
Python, make, git, a shell and coreutils (no system Java, Maven or PostgreSQL), ``make up`` on
ports of its own, all four services ready, an order posted to ingest seen by fulfillment,
``make down``, ``make clean``.

It reuses the machine's caches (uv's packages, Kafka's jars), so it costs what a second
``make up`` costs: a virtual environment and a cluster. As root it also covers PostgreSQL run as
an unprivileged account that cannot enter the clone (its cluster kept in /var/lib/orderflow).
"""

from __future__ import annotations

import json
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from orderflow_testkit.samples import amazon_order

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
HIDDEN = ("java", "javac", "mvn", "psql", "pg_ctl", "initdb", "postgres", "pg_config", "uv")
COREUTILS = (
    "basename cat chmod chown cp cut date dirname du echo env expr false head id ln ls mkdir "
    "mktemp mv printf pwd readlink realpath rm rmdir sed sleep sort stat tail tee touch tr true "
    "uname wc which grep awk find xargs"
).split()
SERVICES = ("ingest", "fulfillment", "defects", "analytics")
SELLER = {"Authorization": "Bearer dev-seller-key"}


def _free_ports(count: int) -> list[int]:
    """Free ports below the ephemeral range: polling a port in that range before its server
    listens can connect the client to itself (TCP self-connect) and take the port."""
    try:
        low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        low = 32768
    found: list[int] = []
    for port in random.sample(range(20000, low), 2000):
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
        found.append(port)
        if len(found) == count:
            return found
    raise RuntimeError("no free ports")


def _base_python() -> Path:
    """The interpreter the virtual environment was made from (the system's Python)."""
    return Path(getattr(sys, "_base_executable", sys.executable)).resolve()


def bare_path(directory: Path) -> str:
    """A directory of links to python3, make, git, sh, bash and coreutils only: a PATH on
    which no Java, Maven, PostgreSQL or uv is found."""
    directory.mkdir(parents=True, exist_ok=True)
    python = _base_python()
    for name in ("python3", f"python3.{sys.version_info.minor}"):
        (directory / name).symlink_to(python)
    for name in ("make", "git", "sh", "bash", *COREUTILS):
        found = shutil.which(name)
        if found and not (directory / name).exists():
            (directory / name).symlink_to(found)
    return str(directory)


@pytest.fixture
def clone() -> Iterator[Path]:
    """A clone of this repository's HEAD inside a new 0700 temporary directory."""
    top = Path(tempfile.mkdtemp(prefix="orderflow-newcomer-"))
    assert (top.stat().st_mode & 0o777) == 0o700
    try:
        subprocess.run(
            ["git", "clone", "--quiet", "--no-hardlinks", str(ROOT), str(top / "orderflow")],
            check=True,
            capture_output=True,
            timeout=120,
        )
        yield top / "orderflow"
    finally:
        shutil.rmtree(top, ignore_errors=True)


def _env(path: str, ports: list[int]) -> dict[str, str]:
    drop = {
        "JAVA_HOME",
        "POSTGRES_BINDIR",
        "POSTGRES_URL",
        "KAFKA_BOOTSTRAP_SERVERS",
        "SQS_ENDPOINT_URL",
        "ORDERFLOW_SQS",
        "VIRTUAL_ENV",
        "ORDERFLOW_ROOT",
        "PYTHONPATH",
        "MAKEFLAGS",
        "MAKELEVEL",
        "MFLAGS",
    }
    env = {k: v for k, v in os.environ.items() if k not in drop}
    names = (
        "KAFKA_PORT",
        "KAFKA_CONTROLLER_PORT",
        "POSTGRES_PORT",
        "INGEST_PORT",
        "FULFILLMENT_PORT",
        "DEFECTS_PORT",
        "ANALYTICS_PORT",
        "SQS_PORT",
    )
    env.update({name: str(port) for name, port in zip(names, ports, strict=True)})
    env["PATH"] = path
    return env


def _make(target: str, repo: Path, env: dict[str, str], timeout: float) -> str:
    result = subprocess.run(
        ["make", target],
        cwd=repo,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, f"make {target} failed:\n{output[-6000:]}"
    return output


def _get(url: str, headers: dict[str, str] | None = None) -> tuple[int, bytes]:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        with exc:
            return exc.code, exc.read()


def test_make_up_in_a_fresh_0700_clone_with_only_python_make_and_git(
    clone: Path, tmp_path: Path
) -> None:
    path = bare_path(tmp_path / "bin")
    for tool in HIDDEN:
        assert shutil.which(tool, path=path) is None, tool
    ports = _free_ports(8)
    env = _env(path, ports)
    service_ports = dict(zip(SERVICES, ports[3:7], strict=True))
    try:
        _make("up", clone, env, timeout=900)
        for name, port in service_ports.items():
            status, _ = _get(f"http://127.0.0.1:{port}/readyz")
            assert status == 200, name
        order = amazon_order()
        oid = order["AmazonOrderId"]
        request = urllib.request.Request(
            f"http://127.0.0.1:{service_ports['ingest']}/v1/orders",
            data=json.dumps(order).encode(),
            headers={**SELLER, "Content-Type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            assert response.status == 201
        deadline = time.monotonic() + 60
        url = f"http://127.0.0.1:{service_ports['fulfillment']}/v1/orders/{oid}"
        while True:
            status, body = _get(url, SELLER)
            if status == 200:
                break
            assert time.monotonic() < deadline, f"order {oid} not in fulfillment: {status}"
            time.sleep(0.5)
        assert json.loads(body)["amazon_order_id"] == oid
        # ElasticMQ (on by default) answers the SQS protocol with the notifications queue.
        status, body = _get(f"http://127.0.0.1:{ports[7]}/?Action=ListQueues")
        assert status == 200 and b"/000000000000/orderflow-notifications<" in body
        cluster = (clone / ".run" / "postgres" / "home").resolve()
        _make("down", clone, env, timeout=300)
        for port in ports:
            with socket.socket() as sock:
                assert sock.connect_ex(("127.0.0.1", port)) != 0, f"port {port} still open"
    finally:
        _make("clean", clone, env, timeout=300)
    assert not (clone / ".run").exists()
    if os.geteuid() == 0:
        # The clone's parent is 0700: root ran PostgreSQL as an account that cannot enter it,
        # so the cluster was kept in /var/lib/orderflow, and `make clean` removed it too.
        assert cluster != clone / ".run" / "postgres" / "home"
        assert not cluster.exists()
