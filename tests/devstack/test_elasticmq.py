"""ElasticMQ for Amazon's notifications: its jars are exactly what the committed lock file
lists (checked, cached once per machine), and the server devstack starts answers the SQS
protocol with the notifications queue created, then stops."""

from __future__ import annotations

import socket
import urllib.request
from pathlib import Path

import pytest

from devstack import config
from devstack.elasticmq import ELASTICMQ, ElasticMQServer, ensure_elasticmq_libs, sqs_answers
from devstack.jars import parse_lock, sha256_of
from devstack.proc import pid_alive, read_pid


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.unit
def test_the_committed_lock_file_parses_and_names_elasticmq() -> None:
    listed = parse_lock(ELASTICMQ.lock_file.read_text())
    names = {jar.filename for jar in listed}
    assert f"elasticmq-server_2.13-{config.ELASTICMQ_VERSION}.jar" in names
    assert f"elasticmq-rest-sqs_2.13-{config.ELASTICMQ_VERSION}.jar" in names
    assert ELASTICMQ.lock_file.name == f"elasticmq-{config.ELASTICMQ_VERSION}.lock"
    assert all(jar.size > 0 and len(jar.sha256) == 64 for jar in listed)


@pytest.mark.unit
def test_the_config_binds_localhost_and_creates_the_notifications_queue(tmp_path: Path) -> None:
    text = ElasticMQServer(tmp_path, 9324, fresh=True).config()
    assert 'bind-hostname = "127.0.0.1"' in text and "bind-port = 9324" in text
    assert '"orderflow-notifications"' in text and "messages-storage" not in text
    kept = ElasticMQServer(tmp_path, 9324).config()
    assert f"jdbc:h2:{tmp_path.resolve() / 'data' / 'messages'}" in kept


@pytest.mark.integration
def test_the_cached_jars_are_the_locked_ones() -> None:
    libs = ensure_elasticmq_libs()
    locked = {jar.filename: jar for jar in parse_lock(ELASTICMQ.lock_file.read_text())}
    assert {path.name for path in libs.iterdir()} == set(locked)
    server = locked[f"elasticmq-server_2.13-{config.ELASTICMQ_VERSION}.jar"]
    assert sha256_of(libs / server.filename) == server.sha256


@pytest.mark.integration
def test_the_server_starts_answers_sqs_and_stops(tmp_path: Path) -> None:
    server = ElasticMQServer(tmp_path / "sqs", _free_port(), fresh=True)
    assert server.start() is True
    try:
        assert server.is_running() and server.start() is False  # reused, not started twice
        url = f"{server.endpoint}/?Action=GetQueueUrl&QueueName=orderflow-notifications"
        with urllib.request.urlopen(url, timeout=5) as response:
            assert server.queue_url().encode() in response.read()
        assert server.queue_arn() == "arn:aws:sqs:us-east-1:000000000000:orderflow-notifications"
    finally:
        pid = read_pid(server.pid_file)
        server.stop()
    assert pid is not None and not pid_alive(pid)
    assert not sqs_answers(server.endpoint, timeout=1.0)
