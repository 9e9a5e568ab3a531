"""What the bench reads of the processes it measures."""

from __future__ import annotations

import os
import shutil

import pytest

from bench.cluster import Infra, jit_seconds
from bench.common import free_port
from devstack import config
from devstack.kafka import KafkaServer
from tests.conftest import TEST_RUN_DIR

pytestmark = pytest.mark.integration


def test_jit_seconds_are_the_broker_compiler_threads_cpu(kafka_bootstrap: str) -> None:
    if "KAFKA_BOOTSTRAP_SERVERS" in os.environ:
        pytest.skip("the broker is not one this test run started")
    broker = KafkaServer(
        TEST_RUN_DIR / "kafka", config.TEST_KAFKA_PORT, config.TEST_KAFKA_CONTROLLER_PORT
    )
    pid = int(broker.pid_file.read_text().split()[0])
    compiled = jit_seconds(pid)
    assert compiled > 0  # a started broker has compiled its start-up's hot paths
    assert jit_seconds(pid) >= compiled  # a running total
    assert jit_seconds(os.getpid()) == 0  # CPython has no compiler threads
    assert jit_seconds(None) == 0


def test_a_postgres_the_bench_starts_drops_what_earlier_runs_left() -> None:
    port = free_port()
    infra = Infra(f"test-infra-{port}", 0, 0, port)
    try:
        assert infra.start_postgres()
        infra.postgres.create_database("bench1_ingest")
        assert not infra.start_postgres()  # already running: maybe another run's, kept
        assert infra.postgres.databases() == ["bench1_ingest"]
        infra.postgres.stop()
        assert infra.start_postgres()
        assert infra.postgres.databases() == []
        infra.postgres.create_database("bench2_ingest")  # the new run's own still work
        assert infra.postgres.databases() == ["bench2_ingest"]
    finally:
        infra.postgres.stop()
        shutil.rmtree(infra.run_dir, ignore_errors=True)
