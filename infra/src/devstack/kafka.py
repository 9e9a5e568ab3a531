"""A single-node Apache Kafka (KRaft, combined broker+controller) run from the jars that
infra/kafka's lock file lists (devstack.jars), with the Java devstack.java finds."""

from __future__ import annotations

import base64
import logging
import os
import shutil
import socket
import struct
import subprocess
import time
import uuid
from pathlib import Path
from typing import TextIO

from devstack.config import KAFKA_VERSION
from devstack.errors import DevstackError, port_taken
from devstack.jars import Artifact, ensure_libs
from devstack.java import find_java
from devstack.lock import file_lock
from devstack.paths import kafka_project_dir
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

START_TIMEOUT_S = 120.0
_API_VERSIONS = 18


def kafka_api_versions_ok(host: str, port: int, timeout: float = 3.0) -> bool:
    """Send an ApiVersions v0 request; True if the broker answers it with error code 0."""
    correlation_id = int.from_bytes(os.urandom(4), "big") & 0x7FFFFFFF
    client_id = b"devstack"
    header = struct.pack(">hhih", _API_VERSIONS, 0, correlation_id, len(client_id)) + client_id
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            sock.sendall(struct.pack(">i", len(header)) + header)
            size = struct.unpack(">i", _recv_exact(sock, 4))[0]
            if not 6 <= size <= 1 << 20:
                return False
            body = _recv_exact(sock, size)
    except (OSError, struct.error):
        return False
    if len(body) < 6:
        return False
    got_id, error_code = struct.unpack(">ih", body[:6])
    ok: bool = got_id == correlation_id and error_code == 0
    return ok


def _recv_exact(sock: socket.socket, size: int) -> bytes:
    chunks = bytearray()
    while len(chunks) < size:
        chunk = sock.recv(size - len(chunks))
        if not chunk:
            raise ConnectionError("connection closed by the broker")
        chunks += chunk
    return bytes(chunks)


KAFKA = Artifact("kafka", "Kafka", KAFKA_VERSION)


def lock_file() -> Path:
    return KAFKA.lock_file


def ensure_kafka_libs(stream: TextIO | None = None) -> Path:
    """Download Kafka's runtime jars into the per-machine cache once; return the directory."""
    return ensure_libs(KAFKA, stream)


class KafkaServer:
    """Kafka in KRaft mode (node 1 is broker and controller) with its state in ``run_dir``."""

    def __init__(
        self, run_dir: Path, port: int, controller_port: int, *, fresh: bool = False
    ) -> None:
        """``fresh``: start on empty storage (a throwaway broker: tests, benchmarks), so the
        topics of earlier runs do not pile up into thousands of partitions and open files."""
        self.run_dir = run_dir.resolve()
        self.port = port
        self.controller_port = controller_port
        self.fresh = fresh

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def pid_file(self) -> Path:
        return self.run_dir / "kafka.pid"

    @property
    def log_file(self) -> Path:
        return self.run_dir / "logs" / "kafka.log"

    @property
    def data_dir(self) -> Path:
        return self.run_dir / "data"

    @property
    def config_file(self) -> Path:
        return self.run_dir / "server.properties"

    def is_running(self) -> bool:
        """Our process is alive and the broker answers ApiVersions."""
        pid = read_pid(self.pid_file)
        return pid is not None and pid_alive(pid) and kafka_api_versions_ok("127.0.0.1", self.port)

    def start(self, timeout: float = START_TIMEOUT_S) -> bool:
        """Start the broker unless ours already runs; True if this call started it."""
        with file_lock(self.run_dir / ".lock"):
            if self.is_running():
                log.info("Kafka already running on %s", self.bootstrap)
                return False
            self._check_ports_free()
            if self.fresh:
                shutil.rmtree(self.data_dir, ignore_errors=True)
            libs = ensure_kafka_libs()
            self._write_config()
            self._format_storage(libs)
            self._launch(libs)
            self._wait_ready(timeout)
            return True

    def stop(self, grace: float = 30.0) -> None:
        with file_lock(self.run_dir / ".lock"):
            pid = read_pid(self.pid_file)
            if pid is not None:
                log.info("stopping Kafka (pid %d)", pid)
                terminate(pid, grace)
            self.pid_file.unlink(missing_ok=True)

    def _check_ports_free(self) -> None:
        pid = read_pid(self.pid_file)
        if pid is not None and pid_alive(pid):
            log.warning("Kafka pid %d alive but not answering; restarting it", pid)
            terminate(pid, 15.0)
        for port, env in (
            (self.port, "KAFKA_PORT"),
            (self.controller_port, "KAFKA_CONTROLLER_PORT"),
        ):
            if port_open(port):
                raise port_taken(port, "Kafka", env)

    def _write_config(self) -> None:
        self.config_file.parent.mkdir(parents=True, exist_ok=True)
        self.config_file.write_text(self._properties())

    def _properties(self) -> str:
        props = {
            "process.roles": "broker,controller",
            "node.id": "1",
            "controller.quorum.voters": f"1@127.0.0.1:{self.controller_port}",
            "listeners": (
                f"PLAINTEXT://127.0.0.1:{self.port},CONTROLLER://127.0.0.1:{self.controller_port}"
            ),
            "advertised.listeners": f"PLAINTEXT://127.0.0.1:{self.port}",
            "controller.listener.names": "CONTROLLER",
            "inter.broker.listener.name": "PLAINTEXT",
            "listener.security.protocol.map": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
            "log.dirs": str(self.data_dir),
            "num.partitions": "12",
            "default.replication.factor": "1",
            "offsets.topic.replication.factor": "1",
            "transaction.state.log.replication.factor": "1",
            "transaction.state.log.min.isr": "1",
            "min.insync.replicas": "1",
            "group.initial.rebalance.delay.ms": "0",
            "auto.create.topics.enable": "true",
            "log.retention.hours": "168",
            "num.network.threads": "2",
            "num.io.threads": "4",
        }
        return "".join(f"{key}={value}\n" for key, value in props.items())

    def _java(self, libs: Path, main: str, *args: str, heap: bool = False) -> list[str]:
        java = find_java()
        log4j = kafka_project_dir() / "log4j.properties"
        # The broker's GC settings follow Kafka's documentation (operations: Java version).
        # With G1's default 1 MB regions on a small heap, produce and fetch buffers of a
        # megabyte or more are "humongous": in one 100,000-order run the broker went through
        # 446 GC pauses, most of them humongous-allocation cycles, and used 17 s of CPU; with
        # 16 MB regions, 12 pauses and about 8 s.
        opts = (
            [
                "-Xms1g",
                "-Xmx1g",
                "-XX:+UseG1GC",
                "-XX:MaxGCPauseMillis=20",
                "-XX:InitiatingHeapOccupancyPercent=35",
                "-XX:G1HeapRegionSize=16M",
                "-XX:MetaspaceSize=96m",
                f"-Xlog:gc:file={self.run_dir / 'logs' / 'gc.log'}:time:filecount=3,filesize=10m",
            ]
            if heap
            else ["-Xmx256m"]
        )
        opts += [
            "-Djava.awt.headless=true",
            f"-Dlog4j.configuration=file:{log4j}",
            f"-Dkafka.logs.dir={self.run_dir / 'logs'}",
        ]
        return [java, *opts, "-cp", f"{libs}/*", main, *args]

    def _format_storage(self, libs: Path) -> None:
        if (self.data_dir / "meta.properties").is_file():
            return
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode()
        cmd = self._java(
            libs,
            "kafka.tools.StorageTool",
            "format",
            f"--cluster-id={cluster_id}",
            "-c",
            str(self.config_file),
            "--ignore-formatted",
        )
        result = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            output = (result.stdout + result.stderr).strip()
            raise DevstackError(
                f"Kafka's storage format failed in {self.data_dir}: "
                f"{output.splitlines()[-1] if output else 'no output'}",
                f"`make clean` removes the local data (Java: {cmd[0]})",
                output[-3000:],
            )
        log.info("formatted Kafka storage in %s (cluster %s)", self.data_dir, cluster_id)

    def _launch(self, libs: Path) -> None:
        cmd = self._java(libs, "kafka.Kafka", str(self.config_file), heap=True)
        pid = spawn_detached(cmd, pid_file=self.pid_file, log_file=self.log_file, cwd=self.run_dir)
        log.info("Kafka starting (pid %d) on %s", pid, self.bootstrap)

    def _wait_ready(self, timeout: float) -> None:
        pid = read_pid(self.pid_file)
        started = time.monotonic()

        def ready() -> bool:
            if pid is None or not pid_alive(pid):
                raise self._did_not_start("it exited")
            return kafka_api_versions_ok("127.0.0.1", self.port, timeout=1.0)

        if not wait_until(ready, timeout, 0.5):
            raise self._did_not_start(f"no answer on {self.bootstrap} within {timeout:.0f}s")
        log.info("Kafka ready on %s in %.1fs", self.bootstrap, time.monotonic() - started)

    def _did_not_start(self, why: str) -> DevstackError:
        tail = log_tail(self.log_file, 15)
        errors = [line for line in tail.splitlines() if "ERROR" in line or "Exception" in line]
        last = errors[-1].strip() if errors else why
        return DevstackError(
            f"Kafka did not start on {self.bootstrap} ({why}): {last[:300]}",
            f"read {self.log_file} (last lines below); `make clean` starts from empty storage",
            tail,
        )
