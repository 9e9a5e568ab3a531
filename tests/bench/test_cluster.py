"""What the bench reads of the processes it measures."""

from __future__ import annotations

import os

import pytest

from bench.cluster import jit_seconds
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
