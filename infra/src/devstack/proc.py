"""Detached processes, pid files, ports and waiting."""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

log = logging.getLogger(__name__)

# Runs in a throwaway interpreter: starts the command in a new session, writes its pid, exits.
# The command is thereby orphaned (reparented to init), so nobody must reap it and no Popen
# object of ours outlives it (no ResourceWarning in pytest).
_SPAWN = (
    "import subprocess, sys\n"
    "log = open(sys.argv[2], 'ab')\n"
    "p = subprocess.Popen(sys.argv[3:], stdin=subprocess.DEVNULL, stdout=log,\n"
    "                     stderr=subprocess.STDOUT, start_new_session=True)\n"
    "open(sys.argv[1] + '.tmp', 'w').write(str(p.pid))\n"
)


def spawn_detached(
    cmd: Sequence[str],
    *,
    pid_file: Path,
    log_file: Path,
    cwd: Path,
    env: Mapping[str, str] | None = None,
) -> int:
    """Start ``cmd`` detached (own session), output appended to ``log_file``; return its pid."""
    log_file.parent.mkdir(parents=True, exist_ok=True)
    pid_file.parent.mkdir(parents=True, exist_ok=True)
    launcher = [sys.executable, "-c", _SPAWN, str(pid_file), str(log_file), *cmd]
    subprocess.run(launcher, cwd=cwd, env=dict(env) if env else None, check=True)
    os.replace(f"{pid_file}.tmp", pid_file)
    pid = int(pid_file.read_text())
    log.debug("started pid %d: %s", pid, " ".join(cmd))
    return pid


def read_pid(pid_file: Path) -> int | None:
    try:
        return int(pid_file.read_text().strip())
    except (FileNotFoundError, ValueError):
        return None


def pid_alive(pid: int) -> bool:
    """True if ``pid`` exists and is not a zombie."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rsplit(")", 1)[-1].split()[0] != "Z"


def terminate(pid: int, grace: float = 20.0) -> None:
    """SIGTERM the process group of ``pid``, SIGKILL it after ``grace`` seconds."""
    if not pid_alive(pid):
        return
    _signal_group(pid, signal.SIGTERM)
    if wait_until(lambda: not pid_alive(pid), grace, 0.1):
        return
    log.warning("pid %d ignored SIGTERM for %.0fs, killing it", pid, grace)
    _signal_group(pid, signal.SIGKILL)
    wait_until(lambda: not pid_alive(pid), 10.0, 0.1)


def _signal_group(pid: int, sig: signal.Signals) -> None:
    try:
        os.killpg(pid, sig)
    except (ProcessLookupError, PermissionError):
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            pass


def port_open(port: int, host: str = "127.0.0.1", timeout: float = 1.0) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def wait_until(predicate: Callable[[], bool], timeout: float, interval: float = 0.5) -> bool:
    deadline = time.monotonic() + timeout
    while True:
        if predicate():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)


def log_tail(path: Path, lines: int = 40) -> str:
    try:
        text = path.read_text(errors="replace")
    except FileNotFoundError:
        return f"(no log at {path})"
    return "\n".join(text.splitlines()[-lines:])
