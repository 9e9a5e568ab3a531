"""Kafka's jars from the lock file: checked downloads from a mirror (a local HTTP server here),
progress on a terminal and in a log, one-line errors for a refused or failed download."""

from __future__ import annotations

import hashlib
import http.server
import io
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from devstack import jars
from devstack.errors import DevstackError
from devstack.jars import Jar, ensure_jars, parse_lock
from devstack.kafka import lock_file

CONTENT = {"a-1.0.jar": b"A" * 300_000, "b-2.0.jar": b"B" * 1000}


def _jar(artifact: str, version: str, data: bytes) -> Jar:
    return Jar("org.example", artifact, version, "", len(data), hashlib.sha256(data).hexdigest())


LOCK = [_jar("a", "1.0", CONTENT["a-1.0.jar"]), _jar("b", "2.0", CONTENT["b-2.0.jar"])]


class Repo:
    """A Maven-layout HTTP server on 127.0.0.1 serving ``files`` (path -> bytes)."""

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self.requests: list[str] = []
        repo = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                repo.requests.append(self.path)
                body = repo.files.get(self.path)
                if body is None:
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                return

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/maven2"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def serve(self, jar: Jar, data: bytes) -> None:
        self.files[jar.url("/maven2")] = data

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def repo(monkeypatch: pytest.MonkeyPatch) -> Iterator[Repo]:
    server = Repo()
    monkeypatch.setenv(jars.MIRROR_ENV, server.url)
    monkeypatch.setattr(jars.time, "sleep", lambda _s: None)
    yield server
    server.close()


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.unit
def test_the_committed_lock_file_parses_and_names_kafka() -> None:
    listed = parse_lock(lock_file().read_text())
    names = {jar.filename for jar in listed}
    assert "kafka_2.13-3.9.1.jar" in names and "kafka-clients-3.9.1.jar" in names
    assert all(jar.size > 0 and len(jar.sha256) == 64 for jar in listed)


@pytest.mark.unit
def test_a_malformed_lock_line_is_an_error() -> None:
    with pytest.raises(ValueError, match="line 2"):
        parse_lock("# header\norg.example:a:1.0 12 nothex\n")


@pytest.mark.unit
def test_url_follows_maven_layout() -> None:
    jar = Jar("org.apache.kafka", "kafka_2.13", "3.9.1", "", 1, "0" * 64)
    assert jar.url("https://repo1.maven.org/maven2/") == (
        "https://repo1.maven.org/maven2/org/apache/kafka/kafka_2.13/3.9.1/kafka_2.13-3.9.1.jar"
    )


@pytest.mark.integration
def test_downloads_verify_and_report_plain_lines(repo: Repo, tmp_path: Path) -> None:
    for jar in LOCK:
        repo.serve(jar, CONTENT[jar.filename])
    log = io.StringIO()
    ensure_jars(LOCK, tmp_path / "libs", what="test jars", stream=log)
    assert sorted(p.name for p in (tmp_path / "libs").iterdir()) == ["a-1.0.jar", "b-2.0.jar"]
    assert (tmp_path / "libs" / "a-1.0.jar").read_bytes() == CONTENT["a-1.0.jar"]
    lines = log.getvalue().splitlines()
    assert lines[0].startswith("downloading test jars: 2 files, 0.3 MB from http://127.0.0.1:")
    assert lines[1].startswith("  [1/2] a-1.0.jar (0.3 MB")
    assert lines[2].startswith("  [2/2] b-2.0.jar")
    assert lines[-1].startswith("downloaded 0.3 MB in ")
    assert "\r" not in log.getvalue()


@pytest.mark.integration
def test_progress_is_a_bar_on_a_terminal(repo: Repo, tmp_path: Path) -> None:
    for jar in LOCK:
        repo.serve(jar, CONTENT[jar.filename])
    screen = Terminal()
    ensure_jars(LOCK, tmp_path / "libs", what="test jars", stream=screen)
    text = screen.getvalue()
    assert "\r\033[K[" in text and "100% 0.3/0.3 MB (2/2)" in text
    assert "[1/2]" not in text


@pytest.mark.integration
def test_jars_already_cached_are_not_downloaded_again(repo: Repo, tmp_path: Path) -> None:
    libs = tmp_path / "libs"
    for jar in LOCK:
        repo.serve(jar, CONTENT[jar.filename])
    ensure_jars(LOCK, libs, what="test jars", stream=io.StringIO())
    repo.requests.clear()
    (libs / "stale-0.1.jar").write_bytes(b"not in the lock")
    quiet = io.StringIO()
    ensure_jars(LOCK, libs, what="test jars", stream=quiet)
    assert repo.requests == [] and quiet.getvalue() == ""
    assert not (libs / "stale-0.1.jar").exists()


@pytest.mark.integration
def test_a_checksum_mismatch_is_refused_and_leaves_nothing(repo: Repo, tmp_path: Path) -> None:
    a, b = LOCK
    repo.serve(a, CONTENT["a-1.0.jar"])
    repo.serve(b, b"X" * len(CONTENT["b-2.0.jar"]))
    with pytest.raises(DevstackError) as caught:
        ensure_jars(LOCK, tmp_path / "libs", what="test jars", stream=io.StringIO())
    message = str(caught.value)
    assert "b-2.0.jar does not match the lock file" in message and "refused" in message
    assert "fix:" in message and len(message.splitlines()) == 1
    assert sorted(p.name for p in (tmp_path / "libs").iterdir()) == ["a-1.0.jar"]


@pytest.mark.integration
def test_a_refused_download_says_so_in_one_line(repo: Repo, tmp_path: Path) -> None:
    with pytest.raises(DevstackError, match=r"download refused: .* HTTP 404") as caught:
        ensure_jars(LOCK[:1], tmp_path / "libs", what="test jars", stream=io.StringIO())
    assert len(str(caught.value).splitlines()) == 1
    assert list((tmp_path / "libs").iterdir()) == []


@pytest.mark.integration
def test_no_network_names_the_cache_as_the_way_out(
    repo: Repo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    port = repo.server.server_address[1]
    repo.close()
    monkeypatch.setenv(jars.MIRROR_ENV, f"http://127.0.0.1:{port}/maven2")
    with pytest.raises(DevstackError, match=r"cannot download .*\(no network\?\)") as caught:
        ensure_jars(LOCK[:1], tmp_path / "libs", what="test jars", stream=io.StringIO())
    assert "later runs use the cache" in str(caught.value)
