"""A PostgreSQL cluster owned by devstack, run from the Debian server binaries."""

from __future__ import annotations

import glob
import logging
import os
import re
import shutil
import subprocess
from pathlib import Path

from devstack.config import POSTGRES_USER
from devstack.lock import file_lock
from devstack.proc import log_tail, port_open, wait_until

log = logging.getLogger(__name__)

START_TIMEOUT_S = 60.0
_DB_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
_RUN_AS = "postgres"


def _is_root() -> bool:
    return os.geteuid() == 0


def find_bindir(install: bool = True) -> Path:
    """Directory with initdb/pg_ctl/postgres; installs Debian ``postgresql`` if absent (root)."""
    found = _search_bindir()
    if found is not None:
        return found
    if not (install and _is_root() and shutil.which("apt-get")):
        raise RuntimeError("PostgreSQL server binaries not found; install the postgresql package")
    _apt_install_postgresql()
    found = _search_bindir()
    if found is None:
        raise RuntimeError("apt-get installed postgresql but no server binaries were found")
    return found


def _search_bindir() -> Path | None:
    candidates: list[Path] = []
    pg_config = shutil.which("pg_config")
    if pg_config:
        result = subprocess.run(
            [pg_config, "--bindir"], capture_output=True, text=True, check=False
        )
        if result.returncode == 0:
            candidates.append(Path(result.stdout.strip()))
    versions = glob.glob("/usr/lib/postgresql/*/bin")
    versions.sort(
        key=lambda p: int(Path(p).parent.name) if Path(p).parent.name.isdigit() else 0, reverse=True
    )
    candidates += [Path(p) for p in versions]
    for bindir in candidates:
        if all((bindir / tool).is_file() for tool in ("initdb", "pg_ctl", "postgres")):
            return bindir
    return None


def _apt_install_postgresql() -> None:
    # Keep the Debian package from creating and starting its own cluster on port 5432.
    conf = Path("/etc/postgresql-common/createcluster.conf")
    if not conf.exists():
        conf.parent.mkdir(parents=True, exist_ok=True)
        conf.write_text("create_main_cluster = false\n")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    log.info("installing PostgreSQL with apt-get")
    subprocess.run(["apt-get", "update"], check=True, env=env)
    subprocess.run(
        ["apt-get", "install", "-y", "--no-install-recommends", "postgresql"], check=True, env=env
    )


def psql_binary() -> str:
    found = _search_bindir()
    if found is not None and (found / "psql").is_file():
        return str(found / "psql")
    psql = shutil.which("psql")
    if psql is None:
        return str(find_bindir() / "psql")
    return psql


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
    """A PostgreSQL cluster in ``run_dir/data`` listening on 127.0.0.1:``port``, trust auth.

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
    def data_dir(self) -> Path:
        return self.run_dir / "data"

    @property
    def log_file(self) -> Path:
        return self.run_dir / "logs" / "postgres.log"

    @property
    def server_url(self) -> str:
        return f"postgresql://{POSTGRES_USER}@127.0.0.1:{self.port}/postgres"

    def url(self, dbname: str, driver: str = "postgresql+asyncpg") -> str:
        return f"{driver}://{POSTGRES_USER}@127.0.0.1:{self.port}/{dbname}"

    def is_running(self) -> bool:
        """Our cluster has a live postmaster and answers ``SELECT 1`` on the port."""
        try:
            lines = (self.data_dir / "postmaster.pid").read_text().splitlines()
        except FileNotFoundError:
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
                raise RuntimeError(f"port {self.port} is in use by a server that is not ours")
            bindir = find_bindir()
            self._prepare_dirs()
            if not (self.data_dir / "PG_VERSION").is_file():
                self._initdb(bindir)
            self._write_config()
            self._pg_ctl(bindir, "start", "-w", "-t", str(int(timeout)), "-l", str(self.log_file))
            if not wait_until(self.is_running, 10.0, 0.3):
                raise RuntimeError(f"PostgreSQL did not come up:\n{log_tail(self.log_file)}")
            log.info("PostgreSQL ready on port %d", self.port)
            return True

    def stop(self, mode: str = "fast") -> None:
        """Stop the server. ``fast`` ends the sessions and shuts down cleanly; ``immediate``
        aborts every server process, as a crash would: what the WAL writer had not yet
        written is lost, and the next start recovers from the WAL."""
        with file_lock(self.run_dir / ".lock"):
            if not (self.data_dir / "postmaster.pid").is_file():
                return
            log.info("stopping PostgreSQL on port %d (%s)", self.port, mode)
            self._pg_ctl(find_bindir(), "stop", "-w", "-t", "60", "-m", mode)

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

    def _prepare_dirs(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        self.log_file.touch()
        if _is_root():
            for path in (self.run_dir, self.data_dir, self.log_file.parent, self.log_file):
                shutil.chown(path, _RUN_AS, _RUN_AS)
        self.data_dir.chmod(0o700)

    def _initdb(self, bindir: Path) -> None:
        log.info("initializing PostgreSQL cluster in %s", self.data_dir)
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
            ]
        )
        with (self.data_dir / "postgresql.conf").open("a") as conf:
            conf.write("\ninclude_if_exists = 'devstack.conf'\n")

    def _write_config(self) -> None:
        settings = {
            "listen_addresses": "'127.0.0.1'",
            "port": str(self.port),
            "unix_socket_directories": f"'{self.run_dir}'",
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
            # statistics (Debian's postgresql-15 ships the module), checkpoints and autovacuum
            # in the log (bench/activity.py reads all three). Loading a library takes a restart.
            "shared_preload_libraries": "'pg_stat_statements'",
            # Statements are kept per database, and the bench server holds hundreds of them
            # (every run makes five): the default 5,000 entries were 94% full.
            "pg_stat_statements.max": "10000",
            "log_checkpoints": "on",
            "log_autovacuum_min_duration": str(self.log_autovacuum_ms),
        }
        conf = self.data_dir / "devstack.conf"
        conf.write_text("".join(f"{key} = {value}\n" for key, value in settings.items()))
        if _is_root():
            shutil.chown(conf, _RUN_AS, _RUN_AS)

    def _pg_ctl(self, bindir: Path, *args: str) -> None:
        self._run([str(bindir / "pg_ctl"), "-D", str(self.data_dir), *args])

    def _run(self, cmd: list[str]) -> None:
        if _is_root():
            cmd = ["runuser", "-u", _RUN_AS, "--", *cmd]
        result = subprocess.run(cmd, capture_output=True, text=True, cwd="/", check=False)
        if result.returncode != 0:
            raise RuntimeError(
                f"{' '.join(cmd)} failed:\n{result.stdout}\n{result.stderr}\n"
                f"{log_tail(self.log_file)}"
            )
