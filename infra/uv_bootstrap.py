"""Print a command that runs uv, fetching uv first if this machine has none (stdlib only).

``make setup`` runs this with the system Python before anything is installed. In order:
``python -m uv`` when the uv package is importable; ``uv`` on the PATH when it is at least
MIN_VERSION; the copy this script fetched before (``~/.cache/orderflow/uv-<version>/uv``);
else uv's wheel for this platform from PyPI (``$ORDERFLOW_PYPI_SIMPLE``, else
``$UV_DEFAULT_INDEX``/``$UV_INDEX_URL``/``$PIP_INDEX_URL``, else pypi.org's simple index),
checked against the sha256 the index publishes, with the ``uv`` binary from it kept in the
cache. No pip, no root: Debian's Python (no pip, "externally managed") works as well.
"""

from __future__ import annotations

import hashlib
import html.parser
import importlib.util
import io
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import urllib.error
import urllib.parse
import urllib.request
import zipfile
from pathlib import Path

VERSION = "0.13.10"  # the uv that wrote uv.lock
MIN_VERSION = (0, 9, 0)
PYPI_SIMPLE = "https://pypi.org/simple"


def main() -> int:
    for command in (_module(), _on_path(), _cached()):
        if command:
            print(command)
            return 0
    try:
        print(_fetch())
    except (OSError, ValueError, zipfile.BadZipFile) as exc:
        reason = getattr(exc, "reason", exc)
        print(
            f"uv_bootstrap: cannot fetch uv {VERSION} ({reason}); fix: connect to the network "
            f"once, or install uv (https://docs.astral.sh/uv/) or `{sys.executable} -m pip "
            "install uv`",
            file=sys.stderr,
        )
        return 1
    return 0


def _version_ok(command: list[str]) -> bool:
    try:
        out = subprocess.run([*command, "--version"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return False
    match = re.search(r"(\d+)\.(\d+)\.(\d+)", out.stdout)
    if out.returncode != 0 or match is None:
        return False
    return tuple(map(int, match.groups())) >= MIN_VERSION


def _module() -> str | None:
    if importlib.util.find_spec("uv") is None:
        return None
    command = [sys.executable, "-m", "uv"]
    return " ".join(command) if _version_ok(command) else None


def _on_path() -> str | None:
    uv = shutil.which("uv")
    return uv if uv and _version_ok([uv]) else None


def _cache() -> Path:
    base = os.environ.get("ORDERFLOW_CACHE_DIR") or str(Path.home() / ".cache" / "orderflow")
    return Path(base) / f"uv-{VERSION}"


def _cached() -> str | None:
    uv = _cache() / "uv"
    return str(uv) if uv.is_file() and _version_ok([str(uv)]) else None


def _index() -> str:
    for env in ("ORDERFLOW_PYPI_SIMPLE", "UV_DEFAULT_INDEX", "UV_INDEX_URL", "PIP_INDEX_URL"):
        if os.environ.get(env):
            return os.environ[env].rstrip("/")
    return PYPI_SIMPLE


class _Links(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.hrefs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            self.hrefs += [value for name, value in attrs if name == "href" and value]


def _platform_ok(tag: str) -> bool:
    machine = platform.machine().lower()
    arch = {"amd64": "x86_64", "arm64": "aarch64"}.get(machine, machine)
    if sys.platform == "darwin":
        wanted = "arm64" if arch in ("aarch64", "arm64") else "x86_64"
        return tag.startswith("macosx") and (wanted in tag or "universal2" in tag)
    if sys.platform.startswith("linux"):
        libc, libc_version = platform.libc_ver()
        if libc == "glibc":
            match = re.match(r"manylinux_(\d+)_(\d+)_(.+)$", tag.split(".")[0])
            if match is None:
                return False
            need = (int(match.group(1)), int(match.group(2)))
            have = tuple(int(x) for x in libc_version.split(".")[:2])
            return match.group(3) == arch and have >= need
        return tag.startswith("musllinux") and tag.endswith(arch)
    return False


def _fetch() -> str:
    index = _index()
    page_url = f"{index}/uv/"
    with urllib.request.urlopen(page_url, timeout=60) as response:
        parser = _Links()
        parser.feed(response.read().decode())
    prefix = f"uv-{VERSION}-py3-none-"
    chosen = None
    for href in parser.hrefs:
        url = urllib.parse.urljoin(page_url, href)
        name = urllib.parse.unquote(Path(urllib.parse.urlsplit(url).path).name)
        if name.startswith(prefix) and name.endswith(".whl"):
            tags = name[len(prefix) : -len(".whl")].split(".")
            if any(_platform_ok(tag) for tag in tags) and "#sha256=" in url:
                chosen = url
                break
    if chosen is None:
        raise ValueError(f"no uv {VERSION} wheel for this platform at {page_url}")
    url, _, sha256 = chosen.partition("#sha256=")
    print(f"downloading uv {VERSION} from {url}", file=sys.stderr)
    with urllib.request.urlopen(url, timeout=120) as response:
        data = response.read()
    if hashlib.sha256(data).hexdigest() != sha256:
        raise ValueError(f"{url} does not match the sha256 its index publishes: refused")
    member = f"uv-{VERSION}.data/scripts/uv"
    with zipfile.ZipFile(io.BytesIO(data)) as wheel:
        binary = wheel.read(member)
    target = _cache()
    target.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target, prefix=".uv.")
    with os.fdopen(fd, "wb") as out:
        out.write(binary)
    os.chmod(tmp, 0o755)
    os.replace(tmp, target / "uv")
    return str(target / "uv")


if __name__ == "__main__":
    sys.exit(main())
