"""What ``bench.activity`` reports about a run's background: typed, saved as JSON by
``bench.report.jsonable`` (a field's name is its key)."""

from __future__ import annotations

from dataclasses import dataclass, field

from bench.report import OMIT


@dataclass(frozen=True)
class LoggedCheckpoint:
    """A checkpoint in the server's log: when it started and why, and once complete what it
    wrote."""

    started: str
    reason: str
    buffers: int | None = field(default=None, metadata=OMIT)
    total_s: float | None = field(default=None, metadata=OMIT)
    wal_kb: int | None = field(default=None, metadata=OMIT)

    @property
    def complete(self) -> bool:
        return self.buffers is not None


@dataclass(frozen=True)
class Checkpoints:
    # A checkpoint spreads its writes over 90% of checkpoint_timeout (15 min): one started
    # before the run may be writing all through it.
    running_at_start: LoggedCheckpoint | None
    timed: int
    requested: int
    write_ms: float
    sync_ms: float
    logged: list[LoggedCheckpoint]


BUFFERS_NOTE = (
    "backends (relation extensions included) and backend_fsyncs reach the "
    "statistics only when the checkpointer wakes (a checkpoint, or its request queue "
    "half full), so they may hold writes from before the run; statements."
    "shared_blks_written is the run's own"
)


@dataclass(frozen=True)
class BuffersWritten:
    checkpointer: int
    bgwriter: int
    backends: int
    backend_fsyncs: int
    bgwriter_stopped_at_max: int
    allocated: int
    block_bytes: int
    note: str = BUFFERS_NOTE


@dataclass(frozen=True)
class WalWritten:
    bytes: int
    bytes_per_order: int | None
    wal_records: int
    wal_fpi: int
    wal_buffers_full: int
    wal_write: int
    wal_sync: int


@dataclass(frozen=True)
class TableVacuums:
    autovacuum: int
    autoanalyze: int


@dataclass(frozen=True)
class LoggedVacuum:
    """One autovacuum or autoanalyze message in the server's log."""

    kind: str  # "vacuum" or "analyze"
    table: str  # database.schema.table
    cpu_s: float
    elapsed_s: float


@dataclass(frozen=True)
class LoggedVacuums:
    """A table's logged vacuum and analyze runs, their CPU seconds and total duration."""

    vacuum: int = 0
    analyze: int = 0
    cpu_s: float = 0.0
    seconds: float = 0.0

    def plus(self, run: LoggedVacuum) -> LoggedVacuums:
        return LoggedVacuums(
            vacuum=self.vacuum + (run.kind == "vacuum"),
            analyze=self.analyze + (run.kind == "analyze"),
            cpu_s=round(self.cpu_s + run.cpu_s, 2),
            seconds=round(self.seconds + run.elapsed_s, 2),
        )


@dataclass(frozen=True)
class Autovacuum:
    tables: dict[str, TableVacuums]  # "service.table": runs counted by the statistics
    running_at_start: list[str]
    running_at_end: list[str]
    logged: dict[str, LoggedVacuums]  # by table, every database's


@dataclass(frozen=True)
class OtherDatabases:
    """What the server's other databases did meanwhile."""

    commits: int
    rows_written: int
    busiest: list[str]


@dataclass(frozen=True)
class OldestTransaction:
    database: str
    state: str
    seconds: int


@dataclass(frozen=True)
class PostgresCpu:
    """PostgreSQL's CPU seconds in the run by whom."""

    this_cluster: float
    other_databases: float
    background: float
    exited_and_postmaster: float


@dataclass(frozen=True)
class GcPauses:
    """The broker JVM's stop-the-world pauses."""

    pauses: int
    total_ms: float
    max_ms: float
    humongous: int
    full: int


@dataclass(frozen=True)
class Statement:
    database: str
    calls: int
    total_ms: float
    mean_ms: float
    rows: int
    query: str


@dataclass(frozen=True)
class ClusterStatements:
    """The statements of this cluster's databases (the server's totals include others')."""

    exec_ms: float
    wal_bytes: int


@dataclass(frozen=True)
class Statements:
    total_exec_ms: float
    calls: int
    # Dirty buffers the statements' backends wrote out themselves to make room: exact for
    # the run, unlike pg_stat_bgwriter's buffers_backend.
    shared_blks_written: int
    this_cluster: ClusterStatements
    top: list[Statement]  # by execution time


@dataclass(frozen=True)
class NoStatements:
    unavailable: str  # why pg_stat_statements cannot be read


@dataclass(frozen=True)
class Report:
    """What PostgreSQL and the broker did in the background during a run."""

    seconds: float
    checkpoints: Checkpoints
    buffers_written: BuffersWritten
    wal: WalWritten
    autovacuum: Autovacuum
    other_databases: OtherDatabases
    # Connections opened, by this cluster's databases (the bench's own probes included):
    # each new backend costs PostgreSQL CPU that shows under "exited".
    sessions_opened: dict[str, int]
    # A transaction left open anywhere on the server holds back every vacuum's cleanup.
    oldest_transaction_at_end: OldestTransaction | None
    postgres_cpu: PostgresCpu | None
    kafka_gc: GcPauses
    postgres_log: str
    statements: Statements | NoStatements
    cost_ms: float
