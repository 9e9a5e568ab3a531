"""Failures a user can act on: one line saying the cause and the fix.

``DevstackError(cause, fix)`` prints as ``<cause>; fix: <fix>``, optionally followed by
``detail`` lines (the last lines of a server's log). ``python -m devstack`` prints the line and
exits 1 instead of showing a traceback.
"""

from __future__ import annotations

import errno
import shutil
from pathlib import Path

MB = 1024 * 1024


class DevstackError(RuntimeError):
    def __init__(self, cause: str, fix: str, detail: str = "") -> None:
        self.cause, self.fix, self.detail = cause, fix, detail
        text = f"{cause}; fix: {fix}"
        if detail:
            text += "\n" + "\n".join(f"    {line}" for line in detail.splitlines())
        super().__init__(text)


def port_holder(port: int) -> str | None:
    """``pid N (command line)`` of the process listening on TCP ``port``, if it can be told.

    As a normal user the operating system hides other users' processes: then the answer
    is ``a process of another user``; ``None`` when nothing is found to be listening.
    """
    import psutil  # a dependency of devstack

    try:
        connections = psutil.net_connections(kind="inet")
    except (psutil.AccessDenied, OSError):
        return None
    for conn in connections:
        if conn.status != psutil.CONN_LISTEN or not conn.laddr or conn.laddr.port != port:
            continue
        if conn.pid is None:
            return "a process of another user (run as root to see which)"
        try:
            cmdline = " ".join(" ".join(psutil.Process(conn.pid).cmdline()).split()) or "?"
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            cmdline = "?"
        if len(cmdline) > 160:
            cmdline = cmdline[:157] + "..."
        return f"pid {conn.pid} ({cmdline})"
    return None


def port_taken(port: int, what: str, env: str) -> DevstackError:
    """``port`` (wanted by ``what``, chosen with the variable ``env``) is taken by another
    process: name it, and say how to free or move."""
    holder = port_holder(port) or "another process"
    return DevstackError(
        f"port {port} (for {what}) is taken by {holder}",
        f"stop that process, or use another port: {env}={port + 100} make up",
    )


def check_free_space(path: Path, need: int, what: str) -> None:
    """Raise a one-line error unless the file system of ``path`` has ``need`` bytes free."""
    probe = path
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    free = shutil.disk_usage(probe).free
    if free < need:
        raise no_space(probe, f"{what} needs {need / MB:.0f} MB, {free / MB:.0f} MB free")


def no_space(path: Path, detail: str = "") -> DevstackError:
    return DevstackError(
        f"no disk space left on the file system of {path}" + (f" ({detail})" if detail else ""),
        "free some space there (`make clean` removes this checkout's local data in .run/), "
        "or point ORDERFLOW_CACHE_DIR at a disk with room",
    )


def from_os_error(exc: OSError) -> DevstackError | None:
    """The one-line form of an ``OSError`` that has a known fix (disk full, read-only)."""
    where = Path(exc.filename) if exc.filename else Path.cwd()
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return no_space(where)
    if exc.errno == errno.EROFS:
        return DevstackError(
            f"{where} is on a read-only file system",
            "clone the repository somewhere writable, or set ORDERFLOW_CACHE_DIR",
        )
    if exc.errno in (errno.EACCES, errno.EPERM):
        return DevstackError(
            f"permission denied: {where}",
            "run `make up` as the user who owns the checkout, or `make clean` to drop "
            "local data made by another user",
        )
    return None
