"""Sampling profiles of running service processes with py-spy (``uv tool install py-spy``).

``record`` samples a process for a while in py-spy's ``raw`` (collapsed stacks) format;
``summarize`` turns that into the functions holding the most samples, on their own ("self")
and with what they call ("total"), in percent of all samples.
"""

from __future__ import annotations

import shutil
import subprocess
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from bench.report import OMIT


def available() -> str | None:
    return shutil.which("py-spy") or (
        str(Path.home() / ".local/bin/py-spy")
        if (Path.home() / ".local/bin/py-spy").is_file()
        else None
    )


def record(pid: int, seconds: int, out: Path) -> subprocess.Popen[bytes] | None:
    """Start sampling ``pid`` for ``seconds`` (in the background); None without py-spy."""
    binary = available()
    if binary is None:
        return None
    out.parent.mkdir(parents=True, exist_ok=True)
    cmd = [binary, "record", "--pid", str(pid), "--duration", str(seconds), "--rate", "100"]
    cmd += ["--format", "raw", "--output", str(out), "--nonblocking"]
    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _frame(frame: str) -> str:
    """``func (path/to/module.py:12)`` -> ``package/module.py:func``."""
    name, _, where = frame.partition(" (")
    path = where.rstrip(")").rsplit(":", 1)[0]
    for marker in ("site-packages/", "/src/", "lib/python3.11/"):
        if marker in path:
            path = path.split(marker, 1)[1]
            break
    return f"{path}:{name}"


@dataclass(frozen=True)
class Profile:
    """Where a process spent its samples: the top frames by their own and their total share
    (percent); no keys at all when nothing was recorded."""

    samples: int | None = field(default=None, metadata=OMIT)
    self_pct: list[tuple[str, float]] | None = field(default=None, metadata=OMIT)
    total_pct: list[tuple[str, float]] | None = field(default=None, metadata=OMIT)


def summarize(raw: Path, top: int = 12) -> Profile:
    if not raw.is_file():
        return Profile()
    own: Counter[str] = Counter()
    total: Counter[str] = Counter()
    samples = 0
    for line in raw.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = [_frame(f) for f in stack.split(";") if f and not f.startswith("process ")]
        if not frames:
            continue
        samples += count
        own[frames[-1]] += count
        for frame in set(frames):
            total[frame] += count
    if not samples:
        return Profile()

    def pct(counter: Counter[str]) -> list[tuple[str, float]]:
        return [(f, round(100 * c / samples, 1)) for f, c in counter.most_common(top)]

    return Profile(samples=samples, self_pct=pct(own), total_pct=pct(total))
