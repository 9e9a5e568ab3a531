"""A single-node Apache Kafka (KRaft, combined broker+controller) run from the jars that
infra/kafka's lock file lists (devstack.jars), with the Java devstack.java finds."""

from __future__ import annotations

import base64
import logging
import os
import shutil
import signal
import socket
import struct
import subprocess
import time
import uuid
from dataclasses import dataclass
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


def new_cluster_id() -> str:
    return base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode()


@dataclass(frozen=True)
class KafkaNode:
    """One KRaft node's part in a cluster; the default is the single combined node.

    ``roles``: "broker,controller", "broker" or "controller". ``voters``: the controller quorum
    (``controller.quorum.voters``), by default this node's own controller port. ``replicas``:
    the cluster's broker count, which sets the replication defaults (3: RF 3, min ISR 2).
    ``cluster_id``: shared by every node of a cluster; empty, the node formats with a new one.
    """

    node_id: int = 1
    roles: str = "broker,controller"
    voters: str = ""
    replicas: int = 1
    cluster_id: str = ""
    heap: str = "1g"

    @property
    def is_broker(self) -> bool:
        return "broker" in self.roles.split(",")

    @property
    def is_controller(self) -> bool:
        return "controller" in self.roles.split(",")


class KafkaServer:
    """Kafka in KRaft mode with its state in ``run_dir``: by default node 1 is broker and
    controller; a :class:`KafkaNode` makes it one node of a cluster (devstack.kafka_cluster)."""

    def __init__(
        self,
        run_dir: Path,
        port: int,
        controller_port: int,
        *,
        fresh: bool = False,
        node: KafkaNode | None = None,
    ) -> None:
        """``fresh``: start on empty storage (a throwaway broker: tests, benchmarks), so the
        topics of earlier runs do not pile up into thousands of partitions and open files."""
        self.run_dir = run_dir.resolve()
        self.port = port
        self.controller_port = controller_port
        self.fresh = fresh
        self.node = node or KafkaNode()

    @property
    def name(self) -> str:
        return (
            "Kafka"
            if self.node.node_id == 1 and self.node.replicas == 1
            else (f"Kafka node {self.node.node_id}")
        )

    @property
    def listen_port(self) -> int:
        """The port this node answers on: its broker port, or a controller's quorum port."""
        return self.port if self.node.is_broker else self.controller_port

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
        return (
            pid is not None
            and pid_alive(pid)
            and kafka_api_versions_ok("127.0.0.1", self.listen_port)
        )

    def start(self, timeout: float = START_TIMEOUT_S) -> bool:
        """Start the broker unless ours already runs; True if this call started it."""
        if not self.begin():
            return False
        self.wait_ready(timeout)
        return True

    def begin(self) -> bool:
        """Launch the node unless ours already runs, without waiting for it; True if launched.
        A cluster launches all its nodes first, then waits: they need each other to start."""
        with file_lock(self.run_dir / ".lock"):
            if self.is_running():
                log.info("%s already running on port %d", self.name, self.listen_port)
                return False
            self._check_ports_free()
            if self.fresh:
                shutil.rmtree(self.data_dir, ignore_errors=True)
            libs = ensure_kafka_libs()
            self._write_config()
            self._format_storage(libs)
            self._launch(libs)
            return True

    def kill(self) -> None:
        """SIGKILL the node (a crash, for fault tests); its storage stays for a restart."""
        pid = read_pid(self.pid_file)
        if pid is not None and pid_alive(pid):
            os.kill(pid, signal.SIGKILL)
            wait_until(lambda: not pid_alive(pid), 10.0, 0.1)
        self.pid_file.unlink(missing_ok=True)

    def stop(self, grace: float = 30.0) -> None:
        with file_lock(self.run_dir / ".lock"):
            pid = read_pid(self.pid_file)
            if pid is not None:
                log.info("stopping %s (pid %d)", self.name, pid)
                terminate(pid, grace)
            self.pid_file.unlink(missing_ok=True)

    def _check_ports_free(self) -> None:
        pid = read_pid(self.pid_file)
        if pid is not None and pid_alive(pid):
            log.warning("%s pid %d alive but not answering; restarting it", self.name, pid)
            terminate(pid, 15.0)
        ports = [(self.port, "KAFKA_PORT")] if self.node.is_broker else []
        if self.node.is_controller:
            ports.append((self.controller_port, "KAFKA_CONTROLLER_PORT"))
        for port, env in ports:
            if port_open(port):
                raise port_taken(port, self.name, env)

    def _write_config(self) -> None:
        self.config_file.parent.mkdir(parents=True, exist_ok=True)
        self.config_file.write_text(self._properties())

    def _properties(self) -> str:
        node = self.node
        props = {
            "process.roles": node.roles,
            "node.id": str(node.node_id),
            "controller.quorum.voters": node.voters
            or f"{node.node_id}@127.0.0.1:{self.controller_port}",
            "controller.listener.names": "CONTROLLER",
            "listener.security.protocol.map": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
            "log.dirs": str(self.data_dir),
            "num.network.threads": "2",
            "num.io.threads": "4",
        }
        listeners = []
        if node.is_broker:
            listeners.append(f"PLAINTEXT://127.0.0.1:{self.port}")
            props |= {
                "advertised.listeners": f"PLAINTEXT://127.0.0.1:{self.port}",
                "inter.broker.listener.name": "PLAINTEXT",
                **_broker_defaults(node.replicas),
            }
        if node.is_controller:
            listeners.append(f"CONTROLLER://127.0.0.1:{self.controller_port}")
        props["listeners"] = ",".join(listeners)
        return "".join(f"{key}={value}\n" for key, value in props.items())

    def _java(self, libs: Path, main: str, *args: str, heap: str = "") -> list[str]:
        java = find_java()
        log4j = kafka_project_dir() / "log4j.properties"
        # The broker's GC settings follow Kafka's documentation (operations: Java version).
        # With G1's default 1 MB regions on a small heap, produce and fetch buffers of a
        # megabyte or more are "humongous": in one 100,000-order run the broker went through
        # 446 GC pauses, most of them humongous-allocation cycles, and used 17 s of CPU; with
        # 16 MB regions, 12 pauses and about 8 s.
        opts = (
            [
                f"-Xms{heap}",
                f"-Xmx{heap}",
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
        cluster_id = self.node.cluster_id or new_cluster_id()
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
        cmd = self._java(libs, "kafka.Kafka", str(self.config_file), heap=self.node.heap)
        pid = spawn_detached(cmd, pid_file=self.pid_file, log_file=self.log_file, cwd=self.run_dir)
        log.info("%s starting (pid %d) on port %d", self.name, pid, self.listen_port)

    def wait_ready(self, timeout: float = START_TIMEOUT_S) -> None:
        pid = read_pid(self.pid_file)
        started = time.monotonic()

        def ready() -> bool:
            if pid is None or not pid_alive(pid):
                raise self._did_not_start("it exited")
            return kafka_api_versions_ok("127.0.0.1", self.listen_port, timeout=1.0)

        if not wait_until(ready, timeout, 0.5):
            raise self._did_not_start(f"no answer on port {self.listen_port} within {timeout:.0f}s")
        log.info(
            "%s ready on port %d in %.1fs", self.name, self.listen_port, time.monotonic() - started
        )

    def _did_not_start(self, why: str) -> DevstackError:
        tail = log_tail(self.log_file, 15)
        errors = [line for line in tail.splitlines() if "ERROR" in line or "Exception" in line]
        last = errors[-1].strip() if errors else why
        return DevstackError(
            f"{self.name} did not start on port {self.listen_port} ({why}): {last[:300]}",
            f"read {self.log_file} (last lines below); `make clean` starts from empty storage",
            tail,
        )


def _broker_defaults(replicas: int) -> dict[str, str]:
    """Topic and internal-topic defaults for a cluster of ``replicas`` brokers: with three or
    more, every partition has three replicas and a write needs two of them (ADR 0047)."""
    rf = min(replicas, 3)
    min_isr = min_insync_replicas(rf)
    return {
        "num.partitions": "12",
        "default.replication.factor": str(rf),
        "offsets.topic.replication.factor": str(rf),
        "transaction.state.log.replication.factor": str(rf),
        "transaction.state.log.min.isr": str(min_isr),
        "min.insync.replicas": str(min_isr),
        "group.initial.rebalance.delay.ms": "0",
        "auto.create.topics.enable": "true",
        "log.retention.hours": "168",
        **(_CLUSTER_TIMEOUTS if replicas > 1 else {}),
    }


def min_insync_replicas(replication_factor: int) -> int:
    """Replicas an ``acks=all`` write needs: two of three (one more than half), one of one."""
    return 2 if replication_factor >= 3 else 1


# A dead broker is fenced (and leaves every ISR) after the session timeout; Kafka's 9 s
# default is for real networks, a local cluster only has to tell a kill from a GC pause.
_CLUSTER_TIMEOUTS = {
    "broker.session.timeout.ms": "6000",
    "broker.heartbeat.interval.ms": "1000",
}
