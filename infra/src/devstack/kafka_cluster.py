"""A local Kafka cluster: one KRaft controller and N brokers on one machine (ADR 0047).

The controller runs apart from the brokers so that killing brokers, even two of three, never
takes the metadata quorum with them: the controller fences the dead brokers, shrinks the ISRs
and elects new leaders, and a write that cannot reach ``min.insync.replicas`` fails at once
with NotEnoughReplicas instead of waiting for a quorum that is gone.
"""

from __future__ import annotations

import logging
from pathlib import Path

from devstack.kafka import START_TIMEOUT_S, KafkaNode, KafkaServer, new_cluster_id
from devstack.lock import file_lock

log = logging.getLogger(__name__)

CONTROLLER_ID = 100
CONTROLLER_HEAP = "256m"


def broker_ports(first_port: int, brokers: int) -> list[int]:
    """Broker ``i`` listens on ``first_port + 2 * i``; ``first_port + 1`` is the controller's."""
    return [first_port + 2 * i for i in range(brokers)]


class KafkaCluster:
    """``brokers`` brokers (node ids 1..N) and one controller, state under ``run_dir``.

    The same face as :class:`KafkaServer` (start, stop, is_running, bootstrap), so the platform,
    the benches and the tests take either.
    """

    def __init__(
        self,
        run_dir: Path,
        ports: list[int],
        controller_port: int,
        *,
        fresh: bool = False,
        broker_heap: str = "1g",
    ) -> None:
        """``fresh``: start on empty storage (a throwaway cluster: tests, benchmarks)."""
        self.run_dir = run_dir.resolve()
        self.ports = list(ports)
        self.controller_port = controller_port
        self.fresh = fresh
        self.broker_heap = broker_heap

    @property
    def bootstrap(self) -> str:
        return ",".join(f"127.0.0.1:{port}" for port in self.ports)

    @property
    def replication_factor(self) -> int:
        return min(len(self.ports), 3)

    @property
    def voters(self) -> str:
        return f"{CONTROLLER_ID}@127.0.0.1:{self.controller_port}"

    @property
    def cluster_id_file(self) -> Path:
        return self.run_dir / "cluster.id"

    def controller(self, cluster_id: str = "", *, fresh: bool = False) -> KafkaServer:
        node = KafkaNode(
            node_id=CONTROLLER_ID,
            roles="controller",
            voters=self.voters,
            replicas=len(self.ports),
            cluster_id=cluster_id,
            heap=CONTROLLER_HEAP,
        )
        return KafkaServer(
            self.run_dir / "controller", 0, self.controller_port, fresh=fresh, node=node
        )

    def broker(self, node_id: int, cluster_id: str = "", *, fresh: bool = False) -> KafkaServer:
        """Broker ``node_id`` (1-based)."""
        node = KafkaNode(
            node_id=node_id,
            roles="broker",
            voters=self.voters,
            replicas=len(self.ports),
            cluster_id=cluster_id,
            heap=self.broker_heap,
        )
        return KafkaServer(
            self.run_dir / f"broker-{node_id}",
            self.ports[node_id - 1],
            self.controller_port,
            fresh=fresh,
            node=node,
        )

    def nodes(self, cluster_id: str = "", *, fresh: bool = False) -> list[KafkaServer]:
        brokers = [self.broker(i, cluster_id, fresh=fresh) for i in range(1, len(self.ports) + 1)]
        return [self.controller(cluster_id, fresh=fresh), *brokers]

    def is_running(self) -> bool:
        return all(node.is_running() for node in self.nodes())

    def start(self, timeout: float = START_TIMEOUT_S) -> bool:
        """Start the nodes that are not running; True if this call started any.

        All are launched before any is waited for: a broker is ready only once the controller
        is, and launching them together halves the cluster's start on a small machine.
        """
        self.run_dir.mkdir(parents=True, exist_ok=True)
        with file_lock(self.run_dir / ".lock"):
            # ``fresh`` empties the storage only of a cluster that is wholly down: a node
            # started on new storage next to running ones would belong to another cluster.
            fresh = self.fresh and not any(node.is_running() for node in self.nodes())
            nodes = self.nodes(self._cluster_id(new=fresh), fresh=fresh)
            launched = [node for node in nodes if node.begin()]
            for node in launched:
                node.wait_ready(timeout)
        if launched:
            log.info("Kafka cluster ready on %s", self.bootstrap)
        return bool(launched)

    def start_broker(self, node_id: int, timeout: float = START_TIMEOUT_S) -> None:
        """Bring broker ``node_id`` back on its storage (after :meth:`kill_broker`)."""
        self.broker(node_id, self._cluster_id()).start(timeout)

    def kill_broker(self, node_id: int) -> None:
        self.broker(node_id).kill()

    def stop(self) -> None:
        for node in reversed(self.nodes()):
            node.stop()

    def _cluster_id(self, *, new: bool = False) -> str:
        """One id for every node's storage; a fresh cluster gets a new one."""
        path = self.cluster_id_file
        if new or not path.is_file():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(new_cluster_id())
        return path.read_text().strip()
