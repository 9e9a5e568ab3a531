"""The AsyncAPI initiative's JSON Schema for AsyncAPI 3.0.0, from a committed lock file.

``infra/asyncapi/specs.lock`` pins the npm package ``@asyncapi/specs`` (version, size,
sha256 of its tarball). ``schema_file()`` downloads the tarball once per machine from the npm
registry (or ``$ORDERFLOW_NPM_REGISTRY``) with the same checked download as Kafka's jars
(``devstack.jars.fetch_checked``), and extracts the one schema ``make test`` validates
``docs/events/asyncapi.json`` with. No Node is needed.
"""

from __future__ import annotations

import os
import re
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from devstack.jars import Progress, Source, fetch_checked, sha256_of
from devstack.lock import file_lock
from devstack.paths import cache_root, kafka_project_dir

REGISTRY = "https://registry.npmjs.org"
REGISTRY_ENV = "ORDERFLOW_NPM_REGISTRY"
ASYNCAPI_VERSION = "3.0.0"
_SOURCE = Source(
    env=REGISTRY_ENV,
    default="the npm registry",
    serves="npm package tarballs",
    regenerate="update infra/asyncapi/specs.lock",
)


@dataclass(frozen=True)
class Package:
    name: str  # @scope/name
    version: str
    size: int
    sha256: str

    @property
    def filename(self) -> str:
        return f"{self.name.rpartition('/')[2]}-{self.version}.tgz"

    def url(self, base: str) -> str:
        return f"{base.rstrip('/')}/{self.name}/-/{self.filename}"


def lock_file() -> Path:
    return kafka_project_dir().parent / "asyncapi" / "specs.lock"


def parse_lock(text: str) -> Package:
    lines = [line.split("#", 1)[0].strip() for line in text.splitlines()]
    entries = [line for line in lines if line]
    try:
        (entry,) = entries
        name, version, size, sha256 = entry.split()
        if not re.fullmatch(r"[0-9a-f]{64}", sha256):
            raise ValueError
    except ValueError:
        raise ValueError(f"{lock_file()} must hold one line: name version size sha256") from None
    return Package(name, version, int(size), sha256)


def schema_file(stream: TextIO | None = None) -> Path:
    """The AsyncAPI 3.0.0 JSON Schema (its self-contained form), downloaded once per machine."""
    package = parse_lock(lock_file().read_text())
    home = cache_root() / "npm" / package.filename.removesuffix(".tgz")
    target = home / f"asyncapi-{ASYNCAPI_VERSION}.json"
    if target.is_file():  # written only from a tarball whose checksum matched
        return target
    with file_lock(home.parent / f".{home.name}.lock"):
        if not target.is_file():
            _fetch(package, home / package.filename, stream)
            _extract(home / package.filename, target)
    return target


def _fetch(package: Package, tarball: Path, stream: TextIO | None) -> None:
    tarball.parent.mkdir(parents=True, exist_ok=True)
    if tarball.is_file() and sha256_of(tarball) == package.sha256:
        return
    base = os.environ.get(REGISTRY_ENV) or REGISTRY
    progress = Progress(package.size, 1, stream)
    progress.begin(f"{package.name} {package.version}", base)
    fetch_checked(
        package.url(base),
        tarball,
        size=package.size,
        sha256=package.sha256,
        progress=progress,
        source=_SOURCE,
    )
    progress.file_done(package.filename, package.size)
    progress.end()


def _extract(tarball: Path, target: Path) -> None:
    member = f"package/schemas/{ASYNCAPI_VERSION}-without-$id.json"
    with tarfile.open(tarball, "r:gz") as archive:
        handle = archive.extractfile(member)
        if handle is None:
            raise ValueError(f"{tarball} has no regular file {member}")
        data = handle.read()
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent)
    with os.fdopen(fd, "wb") as out:
        out.write(data)
    os.replace(tmp, target)
