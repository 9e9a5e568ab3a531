"""Java programs' runtime jars from a committed lock file, downloaded without Maven.

Each program the stack runs on the JVM (Kafka, ElasticMQ) is an :class:`Artifact`:
``infra/<name>/<name>-<version>.lock`` lists every jar it needs (group, artifact, version,
size, sha256), one line each. A maintainer regenerates it from ``infra/<name>/pom.xml`` with
Maven (``python -m devstack lock-<name>``, see docs/local-platform.md); ``make up`` only
downloads the listed jars from Maven Central (or ``$ORDERFLOW_MAVEN_MIRROR``) with urllib,
checks each one's size and sha256, and moves it into the per-machine cache atomically. A jar
already in the cache with the right checksum is kept, so a second run needs no network.
"""

from __future__ import annotations

import errno
import hashlib
import logging
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from devstack.errors import MB, DevstackError, check_free_space
from devstack.lock import file_lock
from devstack.paths import cache_root, project_dir

log = logging.getLogger(__name__)

CENTRAL = "https://repo1.maven.org/maven2"
MIRROR_ENV = "ORDERFLOW_MAVEN_MIRROR"
_CHUNK = 256 * 1024
_ATTEMPTS = 3
_HEADER = """\
# {title} {version}'s runtime jars: group:artifact:version[:classifier] size sha256
# Generated from infra/{name}/pom.xml by `python -m devstack lock-{name}` (needs Maven); do not
# edit by hand. `make up` downloads these from Maven Central and checks each sha256.
"""


@dataclass(frozen=True)
class Artifact:
    """A program run from the jars its lock file lists: ``infra/<name>/`` holds its
    ``pom.xml`` and ``<name>-<version>.lock``; the jars are cached once per machine in
    ``<cache>/<name>-<version>/libs``."""

    name: str
    title: str
    version: str

    @property
    def project_dir(self) -> Path:
        return project_dir(self.name)

    @property
    def lock_file(self) -> Path:
        return self.project_dir / f"{self.name}-{self.version}.lock"

    @property
    def cache_dir(self) -> Path:
        return cache_root() / f"{self.name}-{self.version}"

    @property
    def lock_command(self) -> str:
        return f"lock-{self.name}"


def ensure_libs(artifact: Artifact, stream: TextIO | None = None) -> Path:
    """Download ``artifact``'s jars into the per-machine cache once; return the directory.

    ``.complete`` records the lock file's sha256: while it matches, nothing is read or fetched;
    when the lock file changes, the jars are checked again and only the missing ones fetched.
    """
    home = artifact.cache_dir
    libs, marker = home / "libs", home / ".complete"
    text = artifact.lock_file.read_text()
    stamp = f"{artifact.name} {artifact.version} lock {hashlib.sha256(text.encode()).hexdigest()}\n"
    if _read(marker) == stamp:
        return libs
    with file_lock(home.parent / f".{artifact.name}-{artifact.version}.lock"):
        if _read(marker) == stamp:
            return libs
        what = f"{artifact.title} {artifact.version}'s jars"
        ensure_jars(parse_lock(text), libs, what=what, stream=stream)
        marker.write_text(stamp)
    return libs


def _read(path: Path) -> str | None:
    try:
        return path.read_text()
    except FileNotFoundError:
        return None


@dataclass(frozen=True)
class Jar:
    group: str
    artifact: str
    version: str
    classifier: str
    size: int
    sha256: str

    @property
    def coordinates(self) -> str:
        tail = f":{self.classifier}" if self.classifier else ""
        return f"{self.group}:{self.artifact}:{self.version}{tail}"

    @property
    def filename(self) -> str:
        tail = f"-{self.classifier}" if self.classifier else ""
        return f"{self.artifact}-{self.version}{tail}.jar"

    def url(self, base: str) -> str:
        path = "/".join([*self.group.split("."), self.artifact, self.version, self.filename])
        return f"{base.rstrip('/')}/{path}"

    def line(self) -> str:
        return f"{self.coordinates} {self.size} {self.sha256}"


def parse_lock(text: str) -> list[Jar]:
    jars = []
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        try:
            coordinates, size, sha256 = line.split()
            group, artifact, version, *rest = coordinates.split(":")
            if len(rest) > 1 or not re.fullmatch(r"[0-9a-f]{64}", sha256):
                raise ValueError
            jars.append(Jar(group, artifact, version, rest[0] if rest else "", int(size), sha256))
        except ValueError:
            raise ValueError(f"lock file line {number} is malformed: {raw!r}") from None
    return jars


def mirror() -> str:
    return os.environ.get(MIRROR_ENV) or CENTRAL


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


# -- progress -------------------------------------------------------------------------------


class Progress:
    """What is downloaded and how far: a bar on a terminal, plain lines elsewhere (CI, logs)."""

    def __init__(self, total: int, count: int, stream: TextIO | None = None) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.tty = self.stream.isatty()
        self.total, self.count = total, count
        self.done_bytes, self.done_files = 0, 0
        self.started = time.monotonic()
        self._drawn = 0.0

    def begin(self, what: str, source: str) -> None:
        self._print(
            f"downloading {what}: {self.count} files, {self.total / MB:.1f} MB from {source}"
        )

    def advance(self, size: int, name: str) -> None:
        self.done_bytes += size
        if self.tty and time.monotonic() - self._drawn > 0.1:
            self._bar(name)

    def file_done(self, name: str, size: int) -> None:
        self.done_files += 1
        if self.tty:
            self._bar(name)
        else:
            self._print(
                f"  [{self.done_files}/{self.count}] {name} ({size / MB:.1f} MB, "
                f"{self.done_bytes / MB:.1f}/{self.total / MB:.1f} MB)"
            )

    def end(self) -> None:
        elapsed = time.monotonic() - self.started
        if self.tty:
            self.stream.write("\r\033[K")
        self._print(f"downloaded {self.done_bytes / MB:.1f} MB in {elapsed:.1f}s")

    def _bar(self, name: str) -> None:
        self._drawn = time.monotonic()
        width = 30
        share = self.done_bytes / self.total if self.total else 1.0
        filled = int(width * min(share, 1.0))
        self.stream.write(
            f"\r\033[K[{'#' * filled}{'.' * (width - filled)}] {share:4.0%} "
            f"{self.done_bytes / MB:.1f}/{self.total / MB:.1f} MB "
            f"({self.done_files}/{self.count}) {name}"
        )
        self.stream.flush()

    def _print(self, line: str) -> None:
        self.stream.write(line + "\n")
        self.stream.flush()


# -- downloading ----------------------------------------------------------------------------


def ensure_jars(jars: list[Jar], libs: Path, *, what: str, stream: TextIO | None = None) -> None:
    """Make ``libs`` hold exactly ``jars``, each checked; download what is missing.

    Jars already there with the right sha256 are kept (a running broker may be using them);
    each download goes to a temporary file in ``libs`` that is renamed into place only after
    its checksum matched, so an interrupted run leaves no half-written jar behind.
    """
    libs.mkdir(parents=True, exist_ok=True)
    wanted = {jar.filename for jar in jars}
    for stale in libs.iterdir():
        if stale.name not in wanted:
            log.info("removing %s (not in the lock file)", stale)
            if stale.is_dir():
                shutil.rmtree(stale)
            else:
                stale.unlink()
    missing = [jar for jar in jars if not _present(jar, libs / jar.filename)]
    if not missing:
        return
    total = sum(jar.size for jar in missing)
    check_free_space(libs, total + 20 * MB, f"downloading {what}")
    base = mirror()
    progress = Progress(total, len(missing), stream)
    progress.begin(what, base)
    for jar in missing:
        _download(jar, base, libs, progress)
        progress.file_done(jar.filename, jar.size)
    progress.end()


def _present(jar: Jar, path: Path) -> bool:
    try:
        if path.stat().st_size != jar.size:
            return False
    except FileNotFoundError:
        return False
    return sha256_of(path) == jar.sha256


def _download(jar: Jar, base: str, libs: Path, progress: Progress) -> None:
    fetch_checked(
        jar.url(base),
        libs / jar.filename,
        size=jar.size,
        sha256=jar.sha256,
        progress=progress,
        source=Source(
            env=MIRROR_ENV,
            default="Maven Central",
            serves="Maven artifacts",
            regenerate="regenerate the lock file with `python -m devstack lock-kafka` "
            "(or lock-elasticmq)",
        ),
    )


@dataclass(frozen=True)
class Source:
    """Where a locked file comes from, for the fixes an error message suggests."""

    env: str  # the variable naming a mirror
    default: str  # what is used when it is unset
    serves: str  # what the mirror must serve
    regenerate: str  # how to regenerate the lock


def fetch_checked(
    url: str, target: Path, *, size: int, sha256: str, progress: Progress, source: Source
) -> None:
    """Download ``url`` to ``target``, checking its size and sha256 against a lock file.

    The bytes go to a temporary file beside ``target``, renamed into place only after the
    checksum matched, so an interrupted run leaves no half-written file behind.
    """
    name = target.name
    for attempt in range(1, _ATTEMPTS + 1):
        fd, tmp_name = tempfile.mkstemp(prefix=f".{name}.", suffix=".part", dir=target.parent)
        tmp = Path(tmp_name)
        got = 0
        try:
            digest = hashlib.sha256()
            with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=60) as response:
                while chunk := response.read(_CHUNK):
                    out.write(chunk)
                    digest.update(chunk)
                    got += len(chunk)
                    progress.advance(len(chunk), name)
            if got != size or digest.hexdigest() != sha256:
                raise DevstackError(
                    f"{url} does not match the lock file (got {got} bytes, sha256 "
                    f"{digest.hexdigest()[:16]}..., expected {size} bytes, "
                    f"{sha256[:16]}...): refused",
                    f"check {source.env} (a mirror serving other files), or {source.regenerate}",
                )
            os.replace(tmp, target)
            return
        except urllib.error.HTTPError as exc:
            exc.close()
            progress.done_bytes -= got
            raise DevstackError(
                f"download refused: {url} answered HTTP {exc.code} {exc.reason}",
                f"check {source.env} (unset: {source.default}) and that it serves {source.serves}",
            ) from None
        except (urllib.error.URLError, OSError) as exc:
            progress.done_bytes -= got
            if isinstance(exc, OSError) and exc.errno == errno.ENOSPC:
                raise
            if attempt == _ATTEMPTS:
                reason = getattr(exc, "reason", exc)
                raise DevstackError(
                    f"cannot download {url}: {reason} (no network?)",
                    f"connect to the network once (later runs use the cache in "
                    f"{target.parent}), or set {source.env} to a reachable mirror",
                ) from None
            log.info("retrying %s (%s)", url, exc)
            time.sleep(attempt)
        finally:
            tmp.unlink(missing_ok=True)


# -- the maintainer's command -----------------------------------------------------------------


_LISTED = re.compile(
    r"^\s*([^:\s]+):([^:\s]+):jar:(?:([^:\s]+):)?([^:\s]+):(compile|runtime):(.+)$"
)


def generate_lock(artifact: Artifact, mvn: str | None = None) -> str:
    """The lock file's text for ``artifact``'s pom.xml: Maven resolves the runtime jars
    (checking the checksums Maven Central publishes, ``--strict-checksums``); we record size
    and sha256."""
    pom = artifact.project_dir / "pom.xml"
    mvn = mvn or shutil.which("mvn")
    if mvn is None:
        raise DevstackError(
            f"generating the {artifact.title} lock file needs Maven (mvn), and none is on the PATH",
            "install Maven (a maintainer's task only: `make up` never needs it)",
        )
    with tempfile.TemporaryDirectory() as tmp:
        listing = Path(tmp) / "list.txt"
        cmd = [
            mvn,
            "-B",
            "-q",
            "--strict-checksums",
            "-f",
            str(pom),
            "dependency:list",
            "-DincludeScope=runtime",
            "-DoutputAbsoluteArtifactFilename=true",
            f"-DoutputFile={listing}",
        ]
        result = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise RuntimeError(f"mvn dependency:list failed:\n{result.stdout}\n{result.stderr}")
        jars = list(_listed_jars(listing.read_text().splitlines()))
    jars.sort(key=lambda jar: jar.coordinates)
    header = _HEADER.format(title=artifact.title, name=artifact.name, version=artifact.version)
    return header + "".join(jar.line() + "\n" for jar in jars)


def _listed_jars(lines: Iterable[str]) -> Iterable[Jar]:
    for line in lines:
        match = _LISTED.match(line.split(" -- ", 1)[0])
        if match is None:
            continue
        group, artifact, classifier, version, _scope, path = match.groups()
        file = Path(path.strip())
        yield Jar(group, artifact, version, classifier or "", file.stat().st_size, sha256_of(file))
