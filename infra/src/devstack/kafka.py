"""A single-node Apache Kafka (KRaft, combined broker+controller) run from the jars that
infra/kafka's lock file lists (devstack.jars), with the Java devstack.java finds."""

from __future__ import annotations

import base64
import logging
import os
import signal
import socket
import struct
import subprocess
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from devstack.config import KAFKA_VERSION
from devstack.errors import DevstackError
from devstack.jars import Artifact, ensure_libs
from devstack.java import JavaServer, find_java
from devstack.paths import kafka_project_dir
from devstack.proc import pid_alive, read_pid, wait_until

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


class KafkaServer(JavaServer):
    """Kafka in KRaft mode with its state in ``run_dir``: by default node 1 is broker and
    controller; a :class:`KafkaNode` makes it one node of a cluster (devstack.kafka_cluster),
    whose nodes are all launched (``begin``) before any is waited for (``wait_ready``): they
    need each other to start."""

    start_timeout = START_TIMEOUT_S
    stop_grace = 30.0
    restart_grace = 15.0
    poll_interval = 0.5
    start_hint = "`make clean` starts from empty storage"

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
    def where(self) -> str:
        return f"port {self.listen_port}"

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
    def config_file(self) -> Path:
        return self.run_dir / "server.properties"

    def answers(self, timeout: float | None = None) -> bool:
        """The node answers ApiVersions."""
        return kafka_api_versions_ok(
            "127.0.0.1", self.listen_port, 3.0 if timeout is None else timeout
        )

    def ports(self) -> list[tuple[int, str]]:
        ports = [(self.port, "KAFKA_PORT")] if self.node.is_broker else []
        if self.node.is_controller:
            ports.append((self.controller_port, "KAFKA_CONTROLLER_PORT"))
        return ports

    def kill(self) -> None:
        """SIGKILL the node (a crash, for fault tests); its storage stays for a restart."""
        pid = read_pid(self.pid_file)
        if pid is not None and pid_alive(pid):
            os.kill(pid, signal.SIGKILL)
            wait_until(lambda: not pid_alive(pid), 10.0, 0.1)
        self.pid_file.unlink(missing_ok=True)

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

    def _launch(self) -> None:
        libs = ensure_kafka_libs()
        self._write_config()
        self._format_storage(libs)
        self._spawn(self._java(libs, "kafka.Kafka", str(self.config_file), heap=self.node.heap))


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
