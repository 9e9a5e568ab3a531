"""One line with the cause and the fix: a port taken (naming the process holding it), no disk
space, a cluster of another PostgreSQL version, no Java; the CLI prints it without a traceback."""

from __future__ import annotations

import errno
import os
import socket
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from devstack import cli, java
from devstack.errors import DevstackError, check_free_space, from_os_error, port_taken
from devstack.kafka import KafkaServer
from devstack.postgres import PostgresServer

pytestmark = pytest.mark.integration


@pytest.fixture
def listening() -> Iterator[int]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


def _one_line(exc: BaseException) -> str:
    text = str(exc)
    assert len(text.splitlines()) == 1, text
    assert "; fix: " in text, text
    return text


def test_a_taken_port_names_the_process_holding_it(listening: int) -> None:
    text = _one_line(port_taken(listening, "PostgreSQL", "POSTGRES_PORT"))
    assert f"port {listening} (for PostgreSQL) is taken by pid {os.getpid()} (" in text
    assert "python" in text
    assert f"POSTGRES_PORT={listening + 100} make up" in text


def test_postgres_start_on_a_taken_port_fails_with_the_holder(
    listening: int, tmp_path: Path
) -> None:
    with pytest.raises(DevstackError) as caught:
        PostgresServer(tmp_path / "pg", listening).start()
    assert f"taken by pid {os.getpid()}" in _one_line(caught.value)


def test_kafka_start_on_a_taken_port_fails_with_the_holder(listening: int, tmp_path: Path) -> None:
    with pytest.raises(DevstackError) as caught:
        KafkaServer(tmp_path / "kafka", listening, listening + 1).start()
    text = _one_line(caught.value)
    assert f"taken by pid {os.getpid()}" in text and "KAFKA_PORT=" in text


def test_no_disk_space_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(DevstackError, match="no disk space left") as caught:
        check_free_space(tmp_path / "not-yet", 1 << 60, "a test")
    assert "make clean" in _one_line(caught.value)
    full = from_os_error(OSError(errno.ENOSPC, "No space left on device", str(tmp_path)))
    assert full is not None and "no disk space left" in _one_line(full)


def test_a_cluster_of_another_version_without_its_binaries_says_what_to_do(
    tmp_path: Path,
) -> None:
    data = tmp_path / "pg" / "data"
    data.mkdir(parents=True)
    (data / "PG_VERSION").write_text("9\n")
    with pytest.raises(DevstackError) as caught:
        PostgresServer(tmp_path / "pg", _free_port()).start()
    text = _one_line(caught.value)
    assert "was made by PostgreSQL 9" in text and "make clean" in text
    assert "POSTGRES_BINDIR" in text


def test_an_old_system_java_gives_way_to_the_bundled_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "jdk11"
    (home / "bin").mkdir(parents=True)
    fake = home / "bin" / "java"
    fake.write_text("#!/bin/sh\necho 'openjdk version \"11.0.2\" 2019-01-15' >&2\n")
    fake.chmod(fake.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("JAVA_HOME", str(home))
    monkeypatch.setenv("PATH", str(home / "bin"))
    java.find_java.cache_clear()
    try:
        chosen = java.find_java()
    finally:
        java.find_java.cache_clear()
    assert chosen == java.wheel_java()
    assert java.java_major(chosen) == 21


def test_the_cli_prints_one_line_and_exits_1(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def fail(_platform: object) -> None:
        raise DevstackError("the cause", "the fix")

    monkeypatch.setitem(cli.COMMANDS, "status", fail)
    assert cli.main(["status"]) == 1
    assert capsys.readouterr().err == "devstack status: the cause; fix: the fix\n"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port
