"""Helpers for the session-wide pytest fixtures (tests/conftest.py)."""

from __future__ import annotations

import logging
import os
import re
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Protocol
from urllib.parse import urlsplit, urlunsplit

from devstack.lock import file_lock
from devstack.postgres import create_database, run_psql
from devstack.proc import pid_alive

log = logging.getLogger(__name__)

KEEP_ENV = "ORDERFLOW_KEEP_TEST_STACK"
_PREFIX = re.compile(r"^[a-z_][a-z0-9_]{0,40}$")


class Server(Protocol):
    def start(self) -> bool: ...

    def stop(self) -> None: ...


@contextmanager
def shared_server(server: Server, run_dir: Path) -> Iterator[None]:
    """Start (or reuse) ``server`` for this process; stop it when the last user leaves.

    Concurrent pytest processes register themselves in ``run_dir/users``; the server is only
    stopped if a test session started it, no other live session uses it, and ``$KEEP_ENV``
    is unset.
    """
    users, owner = run_dir / "users", run_dir / "started-by-tests"
    me = users / str(os.getpid())
    with file_lock(run_dir / ".users.lock"):
        if server.start() and not os.environ.get(KEEP_ENV):
            owner.touch()
        users.mkdir(parents=True, exist_ok=True)
        me.touch()
    try:
        yield
    finally:
        with file_lock(run_dir / ".users.lock"):
            me.unlink(missing_ok=True)
            if owner.exists() and not _other_users(users) and not os.environ.get(KEEP_ENV):
                server.stop()
                owner.unlink(missing_ok=True)


def _other_users(users: Path) -> bool:
    alive = False
    for entry in users.iterdir():
        if entry.name.isdigit() and pid_alive(int(entry.name)):
            alive = True
        else:
            entry.unlink(missing_ok=True)
    return alive


def with_database(server_url: str, dbname: str, scheme: str) -> str:
    """``server_url`` pointed at ``dbname`` with URL scheme ``scheme``."""
    parts = urlsplit(server_url)
    return urlunsplit((scheme, parts.netloc, f"/{dbname}", parts.query, ""))


class DatabaseFactory:
    """Creates uniquely named databases on one server; drops them in :meth:`drop_all`."""

    def __init__(self, server_url: str) -> None:
        self.server_url = server_url
        self.created: list[str] = []

    def __call__(self, prefix: str) -> str:
        if not _PREFIX.match(prefix):
            raise ValueError(f"database prefix must match {_PREFIX.pattern}: {prefix!r}")
        name = f"{prefix}_{secrets.token_hex(4)}"
        create_database(self.server_url, name)
        self.created.append(name)
        return with_database(self.server_url, name, "postgresql+asyncpg")

    def drop_all(self) -> None:
        for name in self.created:
            try:
                run_psql(self.server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            except RuntimeError as exc:
                log.warning("could not drop test database %s: %s", name, exc)
        self.created.clear()
