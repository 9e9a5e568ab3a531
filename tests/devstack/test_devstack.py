"""Integration tests for the devstack infrastructure tool."""

from __future__ import annotations

import socket
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from devstack.kafka import kafka_api_versions_ok
from devstack.postgres import psql_binary

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def test_kafka_answers_api_versions(kafka_bootstrap: str) -> None:
    host, _, port = kafka_bootstrap.split(",")[0].rpartition(":")
    assert kafka_api_versions_ok(host, int(port))


def test_api_versions_false_when_nothing_listens() -> None:
    assert not kafka_api_versions_ok("127.0.0.1", _free_port(), timeout=1.0)


def test_make_database_is_queryable(make_database: Callable[[str], str]) -> None:
    first, second = make_database("devstack_test"), make_database("devstack_test")
    assert first != second
    assert first.startswith("postgresql+asyncpg://")
    libpq_url = first.replace("postgresql+asyncpg://", "postgresql://", 1)
    result = subprocess.run(
        [psql_binary(), libpq_url, "-X", "-At", "-c", "select 1"],
        capture_output=True,
        text=True,
        check=False,
        timeout=30,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "1"


def test_topic_prefix_is_unique_per_session(topic_prefix: str) -> None:
    assert topic_prefix.startswith("t") and topic_prefix.endswith(".")


def test_cli_status_exits_zero() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "devstack", "status"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "kafka" in result.stdout and "postgres" in result.stdout
