"""What PostgreSQL and the Kafka broker did in the background during a run.

Two runs of the same benchmark can differ a lot (one 2,000 orders/s run applied 1,801
orders/s with PostgreSQL at 40 s of CPU, the next 1,200/s at 64 s). ``Activity`` takes a
snapshot when a run starts and another when it ends, and reports the difference:

- checkpoints (timed, requested; ``pg_stat_bgwriter``, from PostgreSQL 17 on
  ``pg_stat_checkpointer``), and from the server's log each one's reason, start and duration,
  and one still writing from before the run;
- buffers written by the checkpointer, the background writer and the backends, the backends'
  own fsyncs (``pg_stat_bgwriter``; from 17 on ``pg_stat_io``), and the blocks the run's
  statements wrote themselves;
- WAL written (``pg_current_wal_lsn``), per order, and its full-page images (``pg_stat_wal``);
- autovacuum and autoanalyze runs per table of the cluster's four databases
  (``pg_stat_user_tables``), those running at the start and end (``pg_stat_activity``), and from
  the log (``log_autovacuum_min_duration = 0`` on the bench server) every database's runs with
  their CPU time and duration;
- commits and rows written by the server's other databases (``pg_stat_database``): the bench
  server is shared, and the cluster-wide figures include their work; PostgreSQL's CPU split
  between this cluster's backends, other databases' backends, background processes and exited
  ones (from ``/proc``: a backend's process title names its database), and the oldest open
  transaction (one left open anywhere holds back every vacuum's cleanup);
- the statements that took the most execution time, in every database (``pg_stat_statements``;
  the difference of two snapshots rather than a reset, which would spoil anyone else's figures
  on the shared server);
- from the broker's GC log: its pauses.

Statistics lag by up to a second (backends flush them at most once a second). The measurement
is a few catalog queries, five short connections and a scan of ``/proc`` at each end of the
run, outside the window the CPU figures cover, plus reading the logs' new bytes: about 0.1 s
a snapshot (``cost_ms`` reports both; 0.2 to 0.4 s a run on the loaded 2-core machine).
Loading ``pg_stat_statements`` had no overhead measurable through the machine's noise
(pgbench, 3 alternating runs each way: within the 20% spread between repeats).
"""

from __future__ import annotations

import asyncio
import re
import time
from dataclasses import dataclass, replace
from pathlib import Path

import asyncpg

from bench.activity_results import (
    Autovacuum,
    BuffersWritten,
    Checkpoints,
    ClusterStatements,
    GcPauses,
    LoggedCheckpoint,
    LoggedVacuum,
    LoggedVacuums,
    NoStatements,
    OldestTransaction,
    OtherDatabases,
    PostgresCpu,
    Report,
    Statement,
    Statements,
    TableVacuums,
    WalWritten,
)
from bench.cluster import SERVICES, Cluster, backend_database, postgres_cpu
from bench.common import connect

TOP_STATEMENTS = 8
QUERY_CHARS = 120
BGWRITER = (
    "checkpoints_timed",
    "checkpoints_req",
    "checkpoint_write_time",
    "checkpoint_sync_time",
    "buffers_checkpoint",
    "buffers_clean",
    "maxwritten_clean",
    "buffers_backend",
    "buffers_backend_fsync",
    "buffers_alloc",
)
# PostgreSQL 17 moved the checkpointer's counters to pg_stat_checkpointer and the backends'
# writes to pg_stat_io (blocks written or extended, and fsyncs, by processes other than the
# checkpointer and the background writer): the same figures under the names above.
BGWRITER_SINCE_17 = (
    "SELECT c.num_timed AS checkpoints_timed, c.num_requested AS checkpoints_req, "
    "c.write_time AS checkpoint_write_time, c.sync_time AS checkpoint_sync_time, "
    "c.buffers_written AS buffers_checkpoint, b.buffers_clean, b.maxwritten_clean, "
    "io.writes AS buffers_backend, io.fsyncs AS buffers_backend_fsync, b.buffers_alloc "
    "FROM pg_stat_checkpointer c, pg_stat_bgwriter b, "
    "(SELECT coalesce(sum(coalesce(writes, 0) + coalesce(extends, 0)), 0) AS writes, "
    "coalesce(sum(fsyncs), 0) AS fsyncs FROM pg_stat_io WHERE object = 'relation' "
    "AND backend_type NOT IN ('checkpointer', 'background writer')) io"
)
WAL = ("wal_records", "wal_fpi", "wal_buffers_full", "wal_write", "wal_sync")
BLOCK = 8192
# Rows written by other databases worth a mention in the summary: more than catalog upkeep
# (an autoanalyze of template1 writes a few hundred rows of pg_statistic).
OTHERS_WORTH_NAMING = 1000
LONG_TRANSACTION_S = 60


@dataclass
class Snapshot:
    at: float
    wal_lsn: int
    bgwriter: dict[str, int]
    wal: dict[str, int]
    databases: dict[str, tuple[int, int]]  # datname: (commits, rows written)
    sessions: dict[str, int]  # datname: connections opened so far
    tables: dict[str, tuple[int, int]]  # "service.table": (autovacuum, autoanalyze)
    vacuuming: list[str]
    pg_log: int  # size of the server's log
    gc_log: int  # size of the broker's GC log
    statements: dict[tuple[int, int, int], tuple[float, ...]]  # (user, db, query): counters
    cpu: tuple[float, dict[int, tuple[str, float]]] | None  # bench.cluster.postgres_cpu
    oldest_transaction: OldestTransaction | None


class Activity:
    """``await start()`` when a run starts, ``await stop(orders)`` when it ends."""

    def __init__(self, cluster: Cluster) -> None:
        self.cluster = cluster
        self.pg_log = cluster.infra.postgres.log_file
        self.gc_log = cluster.infra.kafka.run_dir / "logs" / "gc.log"  # devstack/kafka.py
        self.before: Snapshot | None = None
        self.no_statements: str | None = None  # why pg_stat_statements is unavailable
        self.cost_s = 0.0

    async def start(self) -> None:
        started = time.perf_counter()
        conn = await connect(self.cluster.infra.dsn("postgres"))
        try:
            self.no_statements = await _create_extension(conn)
            self.before = await self._snapshot(conn)
        finally:
            await conn.close()
        self.cost_s = time.perf_counter() - started

    async def stop(self, orders: int) -> Report:
        assert self.before is not None, "start() first"
        started = time.perf_counter()
        conn = await connect(self.cluster.infra.dsn("postgres"))
        try:
            after = await self._snapshot(conn)
            statements: Statements | NoStatements = (
                NoStatements(unavailable=self.no_statements)
                if self.no_statements
                else await self._statements(conn, self.before.statements, after.statements)
            )
        finally:
            await conn.close()
        return self._report(self.before, after, orders, statements, started)

    async def _snapshot(self, conn: asyncpg.Connection) -> Snapshot:
        lsn = await conn.fetchval("SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')")
        if await conn.fetchval("SELECT current_setting('server_version_num')::int") >= 170000:
            bgwriter = await conn.fetchrow(BGWRITER_SINCE_17)
        else:
            bgwriter = await conn.fetchrow(f"SELECT {', '.join(BGWRITER)} FROM pg_stat_bgwriter")
        wal = await conn.fetchrow(f"SELECT {', '.join(WAL)} FROM pg_stat_wal")
        databases = await conn.fetch(
            "SELECT datname, xact_commit, tup_inserted + tup_updated + tup_deleted, sessions "
            "FROM pg_stat_database WHERE datname IS NOT NULL"
        )
        vacuuming = await conn.fetch(
            "SELECT datname, query FROM pg_stat_activity WHERE backend_type = 'autovacuum worker'"
        )
        oldest = await conn.fetchrow(
            "SELECT datname, state, extract(epoch FROM now() - xact_start)::float8 "
            "FROM pg_stat_activity WHERE xact_start IS NOT NULL AND pid <> pg_backend_pid() "
            "AND backend_type = 'client backend' ORDER BY xact_start LIMIT 1"
        )
        return Snapshot(
            at=time.time(),
            wal_lsn=int(lsn),
            bgwriter={k: int(bgwriter[k]) for k in BGWRITER},
            wal={k: int(wal[k]) for k in WAL},
            databases={r[0]: (int(r[1]), int(r[2])) for r in databases},
            sessions={r[0]: int(r[3]) for r in databases},
            tables=await self._tables(),
            vacuuming=sorted(
                f"{self._name(r[0] or '?')}: {str(r[1]).removeprefix('autovacuum: ')}"
                for r in vacuuming
            ),
            pg_log=_size(self.pg_log),
            gc_log=_size(self.gc_log),
            statements={} if self.no_statements else await _statement_counters(conn),
            cpu=postgres_cpu(self.cluster.infra),
            oldest_transaction=(
                OldestTransaction(
                    database=self._name(oldest[0]), state=oldest[1], seconds=round(oldest[2])
                )
                if oldest
                else None
            ),
        )

    async def _tables(self) -> dict[str, tuple[int, int]]:
        async def one(service: str) -> dict[str, tuple[int, int]]:
            conn = await connect(self.cluster.dsn(service))
            try:
                rows = await conn.fetch(
                    "SELECT relname, autovacuum_count, autoanalyze_count FROM pg_stat_user_tables"
                )
            finally:
                await conn.close()
            return {f"{service}.{r[0]}": (int(r[1]), int(r[2])) for r in rows}

        out: dict[str, tuple[int, int]] = {}
        for tables in await asyncio.gather(*(one(s) for s in SERVICES)):
            out.update(tables)
        return out

    async def _statements(
        self,
        conn: asyncpg.Connection,
        before: dict[tuple[int, int, int], tuple[float, ...]],
        after: dict[tuple[int, int, int], tuple[float, ...]],
    ) -> Statements:
        """The run's statements: totals, and the top ones by execution time."""
        spent = {}
        for key, now in after.items():
            then = before.get(key)
            # An entry evicted (pg_stat_statements.max) and created again restarts at zero.
            spent[key] = now if then is None or now[0] < then[0] else _minus(now, then)
        spent = {k: v for k, v in spent.items() if v[0] > 0}
        top = sorted(spent, key=lambda k: -spent[k][1])[:TOP_STATEMENTS]
        ours = {self.cluster.database(s) for s in SERVICES}
        names = {r[0]: r[1] for r in await conn.fetch("SELECT oid, datname FROM pg_database")}
        whose = {k: "this_cluster" if names.get(k[1]) in ours else "other_databases" for k in spent}
        texts = {
            (r[0], r[1], r[2]): (r[3], r[4])
            for r in await conn.fetch(
                "SELECT s.userid, s.dbid, s.queryid, d.datname, s.query FROM pg_stat_statements s "
                "LEFT JOIN pg_database d ON d.oid = s.dbid WHERE s.queryid = ANY($1::bigint[])",
                [k[2] for k in top],
            )
        }
        ours_spent = [v for k, v in spent.items() if whose[k] == "this_cluster"]
        return Statements(
            total_exec_ms=round(sum(v[1] for v in spent.values()), 1),
            calls=int(sum(v[0] for v in spent.values())),
            shared_blks_written=int(sum(v[3] for v in spent.values())),
            this_cluster=ClusterStatements(
                exec_ms=round(sum(v[1] for v in ours_spent), 1),
                wal_bytes=int(sum(v[4] for v in ours_spent)),
            ),
            top=[self._statement(spent[k], *texts.get(k, ("?", "?"))) for k in top],
        )

    def _statement(self, spent: tuple[float, ...], database: str, query: str) -> Statement:
        calls, total_ms, rows, _, _ = spent
        return Statement(
            database=self._name(database or "?"),
            calls=int(calls),
            total_ms=round(total_ms, 1),
            mean_ms=round(total_ms / calls, 3),
            rows=int(rows),
            query=" ".join(query.split())[:QUERY_CHARS],
        )

    def _name(self, database: str) -> str:
        """A service's name for one of this cluster's databases, else the database's name."""
        ours = {self.cluster.database(s): s for s in SERVICES}
        return ours.get(database, database)

    def _report(
        self,
        a: Snapshot,
        b: Snapshot,
        orders: int,
        statements: Statements | NoStatements,
        started: float,
    ) -> Report:
        """The difference of two snapshots; ``started``: when ``stop`` began (the measurement's
        own cost counts until the report is done)."""
        pg_log = _new_text(self.pg_log, a.pg_log, b.pg_log)
        bg = {k: b.bgwriter[k] - a.bgwriter[k] for k in BGWRITER}
        checkpoints = _checkpoints(bg, _running_checkpoint(self.pg_log, a.pg_log), pg_log)
        autovacuum = Autovacuum(
            tables={
                name: TableVacuums(autovacuum=v, autoanalyze=n)
                for name, (v, n) in _changed(a.tables, b.tables).items()
            },
            running_at_start=a.vacuuming,
            running_at_end=b.vacuuming,
            logged=self._logged(autovacuums_in(pg_log)),
        )
        others, cpu = self._others(a, b), self._cpu(a, b)
        kafka_gc = gc_pauses(_new_text(self.gc_log, a.gc_log, b.gc_log))
        return Report(
            seconds=round(b.at - a.at, 1),
            checkpoints=checkpoints,
            buffers_written=_buffers_written(bg),
            wal=_wal_written(a, b, orders),
            autovacuum=autovacuum,
            other_databases=others,
            sessions_opened={
                service: b.sessions.get(db, 0) - a.sessions.get(db, 0)
                for service, db in ((s, self.cluster.database(s)) for s in SERVICES)
            },
            oldest_transaction_at_end=b.oldest_transaction,
            postgres_cpu=cpu,
            kafka_gc=kafka_gc,
            postgres_log=str(self.pg_log),
            statements=statements,
            cost_ms=round(1000 * (self.cost_s + time.perf_counter() - started), 1),
        )

    def _logged(self, runs: list[LoggedVacuum]) -> dict[str, LoggedVacuums]:
        """Per table (``service.table`` for this cluster's, else ``db.schema.table``): the
        logged vacuum and analyze runs, their CPU seconds and their total duration."""
        out: dict[str, LoggedVacuums] = {}
        for run in runs:
            database, _, rest = run.table.partition(".")
            name = self._name(database)
            table = f"{name}.{rest.partition('.')[2]}" if name != database else run.table
            out[table] = out.get(table, LoggedVacuums()).plus(run)
        return out

    def _others(self, a: Snapshot, b: Snapshot) -> OtherDatabases:
        ours = {self.cluster.database(s) for s in SERVICES} | {"postgres"}
        others = {k: v for k, v in b.databases.items() if k not in ours}
        busy = _changed(a.databases, others)
        return OtherDatabases(
            commits=sum(v[0] for v in busy.values()),
            rows_written=sum(v[1] for v in busy.values()),
            busiest=sorted(busy, key=lambda k: -busy[k][1])[:3],
        )

    def _cpu(self, a: Snapshot, b: Snapshot) -> PostgresCpu | None:
        """PostgreSQL's CPU seconds in the run by whom: this cluster's backends (the bench's
        probes included), other databases' backends, background processes (checkpointer,
        writers, autovacuum), and processes that exited (short connections, autovacuum
        workers) with the postmaster."""
        if a.cpu is None or b.cpu is None:
            return None
        ours = {self.cluster.database(s) for s in SERVICES}
        out = {"this_cluster": 0.0, "other_databases": 0.0, "background": 0.0}
        for pid, (title, cpu) in b.cpu[1].items():
            before = a.cpu[1].get(pid)
            spent = (
                cpu - before[1] if before and before[0].split()[:3] == title.split()[:3] else cpu
            )
            out[_whose(title, ours)] += spent
        gone = sum(cpu for pid, (_, cpu) in a.cpu[1].items() if pid not in b.cpu[1])
        return PostgresCpu(
            this_cluster=round(out["this_cluster"], 2),
            other_databases=round(out["other_databases"], 2),
            background=round(out["background"], 2),
            exited_and_postmaster=round(b.cpu[0] - a.cpu[0] - gone, 2),
        )


def _checkpoints(
    bg: dict[str, int], running_at_start: LoggedCheckpoint | None, pg_log: str
) -> Checkpoints:
    """Checkpoints in the run, from the statistics' counters ``bg`` and the server's log."""
    return Checkpoints(
        running_at_start=running_at_start,
        timed=bg["checkpoints_timed"],
        requested=bg["checkpoints_req"],
        write_ms=bg["checkpoint_write_time"],
        sync_ms=bg["checkpoint_sync_time"],
        logged=checkpoints_in(pg_log),
    )


def _buffers_written(bg: dict[str, int]) -> BuffersWritten:
    """Buffers written in the run, by whom, from the statistics' counters ``bg``."""
    return BuffersWritten(
        checkpointer=bg["buffers_checkpoint"],
        bgwriter=bg["buffers_clean"],
        backends=bg["buffers_backend"],
        backend_fsyncs=bg["buffers_backend_fsync"],
        bgwriter_stopped_at_max=bg["maxwritten_clean"],
        allocated=bg["buffers_alloc"],
        block_bytes=BLOCK,
    )


def _wal_written(a: Snapshot, b: Snapshot, orders: int) -> WalWritten:
    wal_bytes = b.wal_lsn - a.wal_lsn
    return WalWritten(
        bytes=wal_bytes,
        bytes_per_order=round(wal_bytes / orders) if orders else None,
        wal_records=b.wal["wal_records"] - a.wal["wal_records"],
        wal_fpi=b.wal["wal_fpi"] - a.wal["wal_fpi"],
        wal_buffers_full=b.wal["wal_buffers_full"] - a.wal["wal_buffers_full"],
        wal_write=b.wal["wal_write"] - a.wal["wal_write"],
        wal_sync=b.wal["wal_sync"] - a.wal["wal_sync"],
    )


def _whose(title: str, ours: set[str]) -> str:
    database = backend_database(title)
    if database is None:
        return "background"
    return "this_cluster" if database in ours else "other_databases"


def _changed(
    before: dict[str, tuple[int, int]], after: dict[str, tuple[int, int]]
) -> dict[str, tuple[int, int]]:
    """The pairs of counters that grew, as differences, by name."""
    out = {}
    for name, (x, y) in sorted(after.items()):
        x0, y0 = before.get(name, (0, 0))
        if x > x0 or y > y0:
            out[name] = (x - x0, y - y0)
    return out


async def _create_extension(conn: asyncpg.Connection) -> str | None:
    """Why ``pg_stat_statements`` cannot be read, or None once it can."""
    try:
        await conn.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
        await conn.fetchval("SELECT count(*) FROM pg_stat_statements(false)")
    except asyncpg.PostgresError as exc:
        return f"{exc} (devstack loads it: restart the server)"
    return None


async def _statement_counters(
    conn: asyncpg.Connection,
) -> dict[tuple[int, int, int], tuple[float, ...]]:
    """(user, database, query id): (calls, total ms, rows, shared blocks written, WAL bytes)."""
    rows = await conn.fetch(
        "SELECT userid, dbid, queryid, calls, total_exec_time, rows, shared_blks_written, "
        "wal_bytes FROM pg_stat_statements(false)"
    )
    return {(r[0], r[1], r[2]): (r[3], r[4], r[5], r[6], float(r[7])) for r in rows}


def _minus(a: tuple[float, ...], b: tuple[float, ...]) -> tuple[float, ...]:
    return tuple(x - y for x, y in zip(a, b, strict=True))


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0


def _new_text(path: Path, start: int, end: int) -> str:
    """What was appended to ``path`` between two sizes (from 0 if the file was rotated)."""
    if end < start:
        start = 0
    try:
        with path.open("rb") as f:
            f.seek(start)
            return f.read(max(0, end - start)).decode(errors="replace")
    except FileNotFoundError:
        return ""


_CHECKPOINT_START = re.compile(r"^(\S+ \S+) \S+ \[\d+\] LOG:  checkpoint starting: (.*)$", re.M)
_CHECKPOINT_DONE = re.compile(
    r"LOG:  checkpoint complete: wrote (\d+) buffers.*?total=([\d.]+) s;.*?distance=(\d+) kB"
)
_AUTOVACUUM = re.compile(
    r"LOG:  automatic (?:aggressive )?(vacuum|analyze)(?: to prevent wraparound)? "
    r'of table "([^"]+)"'
)
_USAGE = re.compile(r"CPU: user: ([\d.]+) s, system: ([\d.]+) s, elapsed: ([\d.]+) s")


def _running_checkpoint(path: Path, end: int, window: int = 1 << 20) -> LoggedCheckpoint | None:
    """The checkpoint logged as started but not yet complete at byte ``end`` of the log."""
    start = max(0, end - window)
    logged = checkpoints_in(_new_text(path, start, end))
    return logged[-1] if logged and not logged[-1].complete else None


def checkpoints_in(log: str) -> list[LoggedCheckpoint]:
    """Each checkpoint in a PostgreSQL log excerpt: when it started and why, what it wrote."""
    out: list[LoggedCheckpoint] = []
    for line in log.splitlines():
        if start := _CHECKPOINT_START.match(line):
            out.append(LoggedCheckpoint(started=start[1], reason=start[2]))
        elif done := _CHECKPOINT_DONE.search(line):
            if not out or out[-1].complete:
                out.append(LoggedCheckpoint(started="before the run", reason="?"))
            out[-1] = replace(
                out[-1], buffers=int(done[1]), total_s=float(done[2]), wal_kb=int(done[3])
            )
    return out


def autovacuums_in(log: str) -> list[LoggedVacuum]:
    """Each logged autovacuum/autoanalyze in a PostgreSQL log excerpt, with its CPU time and
    duration (its message continues on tab-indented lines)."""
    out: list[LoggedVacuum] = []
    for message in re.split(r"\n(?!\t)", log):
        if found := _AUTOVACUUM.search(message):
            usage = _USAGE.search(message)
            out.append(
                LoggedVacuum(
                    kind=found[1],
                    table=found[2],
                    cpu_s=float(usage[1]) + float(usage[2]) if usage else 0.0,
                    elapsed_s=float(usage[3]) if usage else 0.0,
                )
            )
    return out


_GC_PAUSE = re.compile(r"GC\(\d+\) (Pause \S+)(.*) ([\d.]+)ms$", re.M)


def gc_pauses(log: str) -> GcPauses:
    """The JVM's stop-the-world pauses in a unified GC log excerpt (``-Xlog:gc``)."""
    pauses = [(m[1], m[2], float(m[3])) for m in _GC_PAUSE.finditer(log)]
    return GcPauses(
        pauses=len(pauses),
        total_ms=round(sum(ms for _, _, ms in pauses), 1),
        max_ms=round(max((ms for _, _, ms in pauses), default=0.0), 1),
        humongous=sum(1 for _, why, _ in pauses if "Humongous" in why),
        full=sum(1 for kind, _, _ in pauses if kind == "Pause Full"),
    )


def summary(activity: Report) -> str:
    """One line: ``checkpoints 1 (req 0), ..., WAL 1.2 GB (12 KB/order), ...``."""
    parts = [
        _checkpoints_part(activity.checkpoints),
        _writes_part(activity.buffers_written, activity.statements),
        _autovacuum_part(activity.autovacuum),
        _wal_part(activity.wal),
        _statements_part(activity.statements),
    ]
    others = activity.other_databases
    if others.rows_written > OTHERS_WORTH_NAMING:
        parts.append(f"other databases wrote {others.rows_written} rows")
    if sessions := activity.sessions_opened:
        parts.append(f"{sum(sessions.values())} connections opened")
    if cpu_by := activity.postgres_cpu:
        parts.append(
            f"PostgreSQL CPU s: ours {cpu_by.this_cluster:.1f}, other databases "
            f"{cpu_by.other_databases:.1f}, background {cpu_by.background:.1f}, exited "
            f"{cpu_by.exited_and_postmaster:.1f}"
        )
    oldest = activity.oldest_transaction_at_end
    if oldest and oldest.seconds >= LONG_TRANSACTION_S:
        parts.append(f"a transaction open {oldest.seconds} s in {oldest.database}")
    gc = activity.kafka_gc
    if gc.pauses:
        parts.append(f"Kafka GC {gc.pauses} pauses {gc.total_ms:.0f} ms (max {gc.max_ms:.0f})")
    return ", ".join(parts)


def _checkpoints_part(ckpt: Checkpoints) -> str:
    running = " + 1 running from before" if ckpt.running_at_start else ""
    return f"checkpoints {ckpt.timed + ckpt.requested} (req {ckpt.requested}){running}"


def _writes_part(buf: BuffersWritten, statements: Statements | NoStatements) -> str:
    """Buffers written by whom: the queries' own figure when ``pg_stat_statements`` has it,
    else the backends' (which lags)."""
    by_queries = statements.shared_blks_written if isinstance(statements, Statements) else None
    return (
        f"written by checkpointer {_blocks(buf.checkpointer)}, bgwriter "
        f"{_blocks(buf.bgwriter)}, "
        + (
            f"queries {_blocks(by_queries)}"
            if by_queries is not None
            else f"backends {_blocks(buf.backends)} (lagging)"
        )
        + (f" ({buf.backend_fsyncs} backend fsyncs)" if buf.backend_fsyncs else "")
    )


def _autovacuum_part(vacuums: Autovacuum) -> str:
    vac, logged = vacuums.tables, vacuums.logged.values()
    runs = sum(t.autovacuum for t in vac.values())
    analyzes = sum(t.autoanalyze for t in vac.values())
    cpu, took = sum(t.cpu_s for t in logged), sum(t.seconds for t in logged)
    return (
        f"autovacuum {len(vac)} tables ({runs} vacuum, {analyzes} analyze; "
        f"{cpu:.1f} s CPU over {took:.1f} s in all databases)"
    )


def _wal_part(wal: WalWritten) -> str:
    return f"WAL {_bytes(wal.bytes)} ({_bytes(wal.bytes_per_order or 0)}/order, {wal.wal_fpi} FPI)"


def _statements_part(statements: Statements | NoStatements) -> str:
    if isinstance(statements, NoStatements):
        return "no pg_stat_statements (restart the server)"
    top = statements.top[0] if statements.top else None
    mine = statements.this_cluster
    return (
        f"SQL {statements.total_exec_ms / 1000:.1f} s (ours {mine.exec_ms / 1000:.1f} s"
        f" writing {_bytes(mine.wal_bytes)} of WAL"
        + (f"; top: {top.database} {top.total_ms / 1000:.1f} s)" if top else ")")
    )


def _blocks(n: int) -> str:
    return _bytes(n * BLOCK)


def _bytes(n: float) -> str:
    if n == 0:
        return "0"
    for unit in ("B", "KB", "MB"):
        if abs(n) < 1024:
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GB"
