"""The local three-broker cluster (ADR 0047): replication, and writes under broker faults."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from aiokafka.errors import KafkaError, NotEnoughReplicasError

from devstack.kafka import KafkaServer
from devstack.kafka_cluster import KafkaCluster
from devstack.proc import pid_alive, port_open, read_pid
from shared.kafka.client import ensure_topics, make_producer

pytestmark = pytest.mark.integration

TOPIC = "cluster.orders.v1"


def _free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [int(sock.getsockname()[1]) for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KafkaCluster]:
    *ports, controller_port = _free_ports(4)
    run_dir = Path(tmp_path_factory.mktemp("cluster"))
    server = KafkaCluster(run_dir, ports, controller_port, fresh=True, broker_heap="512m")
    server.start()
    try:
        yield server
    finally:
        server.stop()


async def _topic_replication(bootstrap: str) -> tuple[set[int], str]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        [described] = await admin.describe_topics([TOPIC])
        replicas = {len(p["replicas"]) for p in described["partitions"]}
        resource = ConfigResource(ConfigResourceType.TOPIC, TOPIC, {"min.insync.replicas": None})
        [response] = await admin.describe_configs([resource])
        entries = response.resources[0][4]
        return replicas, {entry[0]: entry[1] for entry in entries}["min.insync.replicas"]
    finally:
        await admin.close()


async def _produce_all(bootstrap: str, client_id: str, count: int = 30) -> None:
    await _produce(make_producer(bootstrap, client_id=client_id), count)


async def _produce(producer: AIOKafkaProducer, count: int) -> None:
    await producer.start()
    try:
        for i in range(count):
            await producer.send_and_wait(TOPIC, f"order-{i}".encode(), partition=i % 3)
    finally:
        await producer.stop()


async def _refused_until(bootstrap: str, deadline: float) -> BaseException:
    """Produce one record ``acks=all`` until the cluster refuses it for want of replicas (the
    controller must first fence the dead brokers); the last error if it never does."""
    last: BaseException = TimeoutError("no attempt")
    while time.monotonic() < deadline:
        producer = AIOKafkaProducer(
            bootstrap_servers=bootstrap, acks="all", request_timeout_ms=3000
        )
        try:
            await _produce(producer, 3)
        except KafkaError as exc:
            last = exc
            if isinstance(exc, NotEnoughReplicasError):
                return exc
        else:
            last = AssertionError("a write with two of three brokers down was acknowledged")
            return last
    return last


def test_three_brokers_replicate_refuse_writes_without_two_replicas_and_stop(
    cluster: KafkaCluster,
) -> None:
    bootstrap = cluster.bootstrap
    asyncio.run(ensure_topics(bootstrap, [TOPIC], partitions=3, replication_factor=3))
    assert asyncio.run(_topic_replication(bootstrap)) == ({3}, "2")
    asyncio.run(_produce_all(bootstrap, "t-all-up"))

    cluster.kill_broker(1)
    asyncio.run(_produce_all(bootstrap, "t-one-down"))

    cluster.kill_broker(2)
    refused = asyncio.run(_refused_until(bootstrap, time.monotonic() + 60))
    assert isinstance(refused, NotEnoughReplicasError), refused

    cluster.start_broker(2)
    asyncio.run(_produce_all(bootstrap, "t-back"))

    pids = [read_pid(node.pid_file) for node in cluster.nodes()]
    cluster.stop()
    assert not any(pid is not None and pid_alive(pid) for pid in pids)
    assert not any(port_open(port) for port in [*cluster.ports, cluster.controller_port])


def _properties(server: KafkaServer) -> dict[str, str]:
    lines = server._properties().splitlines()  # what start() writes to server.properties
    return dict(line.split("=", 1) for line in lines)


@pytest.mark.unit
def test_cluster_nodes_are_configured_for_three_replicas(tmp_path: Path) -> None:
    cluster = KafkaCluster(tmp_path, [9192, 9194, 9196], 9193)
    controller, broker = cluster.controller(), cluster.broker(2)
    assert _properties(controller)["process.roles"] == "controller"
    assert _properties(controller)["listeners"] == "CONTROLLER://127.0.0.1:9193"
    props = _properties(broker)
    assert props["listeners"] == "PLAINTEXT://127.0.0.1:9194"
    assert props["controller.quorum.voters"] == "100@127.0.0.1:9193"
    assert props["default.replication.factor"] == props["offsets.topic.replication.factor"] == "3"
    assert props["min.insync.replicas"] == props["transaction.state.log.min.isr"] == "2"
    assert cluster.bootstrap == "127.0.0.1:9192,127.0.0.1:9194,127.0.0.1:9196"


@pytest.mark.unit
def test_the_single_node_stays_one_combined_replica(tmp_path: Path) -> None:
    props = _properties(KafkaServer(tmp_path, 9092, 9093))
    assert props["process.roles"] == "broker,controller"
    assert props["default.replication.factor"] == props["min.insync.replicas"] == "1"
    assert "broker.session.timeout.ms" not in props
