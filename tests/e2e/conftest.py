"""Services as real processes (``python -m <service> all``) on the test Kafka and PostgreSQL."""

from __future__ import annotations

import contextlib
import importlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from orderflow_testkit.harness import RunningService, running_service
from shared.settings import ServiceSettings

PII_KEY = "n_BqP4SNyVeTHYn4Gjx04lJgXmwo1DbEEpWiUaOM2Qs="
KEYS = "k-seller=seller:A2SELLER1EXAMPLE,k-other=seller:A3SELLER2EXAMPLE,k-ops=ops,k-sys=system"
SERVICES = sorted(
    p.name for p in (Path(__file__).resolve().parents[2] / "services").iterdir() if p.is_dir()
)


def settings_of(service: str, **values: Any) -> ServiceSettings:
    """The service's own settings class, built from ``values``."""
    module = importlib.import_module(f"{service}.settings")
    [cls] = [
        v
        for v in vars(module).values()
        if isinstance(v, type) and issubclass(v, ServiceSettings) and v is not ServiceSettings
    ]
    return cls(**values)


@contextlib.asynccontextmanager
async def in_process_platform(
    make_database: Callable[[str], str],
    *,
    kafka_bootstrap: str,
    prefix: str,
    roles: Sequence[str],
    **settings: Any,
) -> AsyncIterator[dict[str, RunningService]]:
    """Every service in this process, on its own database, sharing ``prefix``'s topics."""
    tag = prefix.rstrip(".").rsplit(".", 1)[-1][:8]
    async with contextlib.AsyncExitStack() as stack:
        running: dict[str, RunningService] = {}
        for name in SERVICES:
            values = dict(
                DATABASE_URL=make_database(f"{name}_{tag}"),
                KAFKA_BOOTSTRAP_SERVERS=kafka_bootstrap,
                KAFKA_TOPIC_PREFIX=prefix,
                ORDERFLOW_API_KEYS=KEYS,
                ORDERFLOW_PII_KEY=PII_KEY,
            )
            spec = importlib.import_module(f"{name}.bootstrap").SPEC
            running[name] = await stack.enter_async_context(
                running_service(spec, settings_of(name, **values, **settings), roles=roles)
            )
        yield running


@dataclass
class ServiceProcess:
    name: str
    url: str
    env: dict[str, str]
    log: Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_ready(url: str, log: Path, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                return
        time.sleep(0.3)
    raise AssertionError(f"{url} not ready:\n{log.read_text()[-3000:]}")


@pytest.fixture
def start_service(
    make_database: Callable[[str], str], kafka_bootstrap: str, topic_prefix: str, tmp_path: Path
) -> Iterator[Callable[..., ServiceProcess]]:
    """``start_service(name, role="all", database_url=None, **env)``: run ``python -m name
    role`` (after ``migrate``, unless it joins an existing ``database_url``); stopped after.

    ``all`` and ``api`` serve on ``HTTP_PORT``; ``worker`` and ``relay`` get an ``OPS_PORT``
    for their own health and metrics. ``url`` is where the process answers ``/readyz``.
    """
    running: list[tuple[subprocess.Popen[bytes], ServiceProcess]] = []

    def start(
        name: str, role: str = "all", database_url: str | None = None, **extra_env: str
    ) -> ServiceProcess:
        port = free_port()
        env = {
            **os.environ,
            "DATABASE_URL": database_url or make_database(f"{name}_proc"),
            "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
            "KAFKA_TOPIC_PREFIX": f"{topic_prefix}{tmp_path.name[-12:]}.",
            "HTTP_PORT" if role in ("all", "api") else "OPS_PORT": str(port),
            "ORDERFLOW_API_KEYS": KEYS,
            "ORDERFLOW_PII_KEY": PII_KEY,
            **extra_env,
        }
        if database_url is None:
            subprocess.run(
                [sys.executable, "-m", name, "migrate"],
                env=env,
                check=True,
                capture_output=True,
                timeout=120,
            )
        log = tmp_path / f"{name}-{role}-{len(running)}.log"
        with log.open("wb") as out:
            proc = subprocess.Popen(
                [sys.executable, "-m", name, role], env=env, stdout=out, stderr=subprocess.STDOUT
            )
        service = ServiceProcess(name, f"http://127.0.0.1:{port}", env, log)
        running.append((proc, service))
        wait_ready(service.url, log)
        return service

    yield start
    for proc, service in running:
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=30)
        assert code == 0, f"{service.name} exited {code}:\n{service.log.read_text()[-3000:]}"
