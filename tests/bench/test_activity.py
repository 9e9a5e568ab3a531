"""bench.activity: what PostgreSQL and the broker did in the background during a run."""

from __future__ import annotations

import asyncio
import secrets
import shutil
from collections.abc import Callable, Iterator

import asyncpg
import pytest

from bench import activity
from bench.activity_results import (
    GcPauses,
    LoggedCheckpoint,
    LoggedVacuum,
    NoStatements,
    Report,
    Statements,
)
from bench.cluster import SERVICES, Cluster, Infra
from bench.common import free_port
from bench.report import jsonable

# Lines as PostgreSQL 15 and the JDK's unified GC log write them (from .run/bench).
CHECKPOINTS = """\
2026-11-26 06:39:51.672 UTC [22078] LOG:  checkpoint starting: time
2026-11-26 06:40:02.001 UTC [22080] LOG:  automatic analyze of table "bench1_ingest.public.orders"
\tavg read rate: 0.012 MB/s, avg write rate: 0.048 MB/s
\tsystem usage: CPU: user: 0.45 s, system: 0.04 s, elapsed: 1.31 s
2026-11-26 06:44:26.840 UTC [22078] LOG:  checkpoint complete: wrote 11258 buffers (68.7%); \
0 WAL file(s) added, 0 removed, 7 recycled; write=269.414 s, sync=5.733 s, total=275.168 s; \
sync files=5714, longest=0.014 s, average=0.002 s; distance=115069 kB, estimate=115069 kB
2026-11-26 06:54:51.001 UTC [22078] LOG:  checkpoint starting: wal
"""
AUTOVACUUMS = """\
2026-11-26 13:44:42.215 UTC [19948] LOG:  automatic vacuum of table "b_fulfillment.public.orders": \
index scans: 0
\tpages: 0 removed, 6614 remain, 6614 scanned (100.00% of total)
\tbuffer usage: 33691 hits, 5 misses, 637 dirtied
\tsystem usage: CPU: user: 0.06 s, system: 0.00 s, elapsed: 0.67 s
2026-11-26 13:44:43.526 UTC [19948] LOG:  automatic analyze of table "b_fulfillment.public.orders"
\tavg read rate: 0.012 MB/s, avg write rate: 0.048 MB/s
\tsystem usage: CPU: user: 0.45 s, system: 0.04 s, elapsed: 1.31 s
2026-11-26 13:45:14.072 UTC [20365] LOG:  automatic aggressive vacuum of table \
"template1.pg_catalog.pg_statistic": index scans: 1
\tsystem usage: CPU: user: 0.01 s, system: 0.01 s, elapsed: 0.02 s
"""
GC = "\n".join(
    [
        "[2026-11-26T13:39:32.094+0000] Using G1",
        "[2026-11-26T13:39:32.918+0000] GC(0) Pause Young (Normal) (G1 Evacuation Pause) "
        "63M->22M(1024M) 8.447ms",
        "[2026-11-26T13:40:01.100+0000] GC(1) Pause Young (Concurrent Start) "
        "(G1 Humongous Allocation) 400M->120M(1024M) 12.500ms",
        "[2026-11-26T13:40:01.300+0000] GC(2) Concurrent Mark Cycle 180.000ms",
        "[2026-11-26T13:40:01.200+0000] GC(2) Pause Remark 130M->130M(1024M) 3.053ms",
    ]
)


@pytest.mark.unit
def test_checkpoints_in_pairs_starts_with_completions() -> None:
    assert activity.checkpoints_in(CHECKPOINTS) == [
        LoggedCheckpoint(
            started="2026-11-26 06:39:51.672",
            reason="time",
            buffers=11258,
            total_s=275.168,
            wal_kb=115069,
        ),
        LoggedCheckpoint(started="2026-11-26 06:54:51.001", reason="wal"),
    ]
    # One not yet complete has no figures in the document.
    assert jsonable(activity.checkpoints_in(CHECKPOINTS)[1]) == {
        "started": "2026-11-26 06:54:51.001",
        "reason": "wal",
    }


@pytest.mark.unit
def test_checkpoints_in_a_completion_whose_start_came_before() -> None:
    completion = CHECKPOINTS.splitlines()[4]
    assert activity.checkpoints_in(completion) == [
        LoggedCheckpoint(
            started="before the run", reason="?", buffers=11258, total_s=275.168, wal_kb=115069
        )
    ]


@pytest.mark.unit
def test_autovacuums_in_reads_each_message_with_its_cpu_and_duration() -> None:
    runs = activity.autovacuums_in(AUTOVACUUMS)
    assert runs == [
        LoggedVacuum(
            kind="vacuum", table="b_fulfillment.public.orders", cpu_s=0.06, elapsed_s=0.67
        ),
        LoggedVacuum(
            kind="analyze", table="b_fulfillment.public.orders", cpu_s=0.49, elapsed_s=1.31
        ),
        LoggedVacuum(
            kind="vacuum", table="template1.pg_catalog.pg_statistic", cpu_s=0.02, elapsed_s=0.02
        ),
    ]


@pytest.mark.unit
def test_gc_pauses_counts_stop_the_world_pauses_only() -> None:
    assert activity.gc_pauses(GC) == GcPauses(
        pauses=3, total_ms=24.0, max_ms=12.5, humongous=1, full=0
    )


MakeReport = Callable[..., Report]


@pytest.mark.unit
def test_summary_is_one_line_with_the_figures(background_report: MakeReport) -> None:
    line = activity.summary(background_report())
    assert "\n" not in line
    assert line.startswith("checkpoints 1 (req 0), written by checkpointer 1.0 MB, bgwriter 0")
    assert "autovacuum 2 tables (1 vacuum, 2 analyze; 0.5 s CPU over 2.0 s in all" in line
    assert "WAL 1.2 GB (12.0 KB/order, 10 FPI)" in line
    assert "SQL 1.5 s (ours 1.0 s writing 1.0 MB of WAL)" in line
    assert "Kafka GC" not in line


@pytest.mark.unit
def test_summary_names_the_brokers_gc_pauses_when_there_were_any(
    background_report: MakeReport,
) -> None:
    gc = GcPauses(pauses=2, total_ms=216.8, max_ms=146.6, humongous=0, full=0)
    assert activity.summary(background_report(kafka_gc=gc)).endswith(
        "Kafka GC 2 pauses 217 ms (max 147)"
    )


@pytest.mark.unit
def test_summary_says_when_statements_cannot_be_read(background_report: MakeReport) -> None:
    line = activity.summary(background_report(statements=NoStatements("not loaded")))
    assert "no pg_stat_statements" in line
    assert "backends 0 (lagging)" in line


@pytest.mark.unit
def test_backends_are_told_apart_by_the_database_in_their_title() -> None:
    ours = {"b1_ingest"}
    assert (
        activity._whose("postgres: orderflow b1_ingest 127.0.0.1(4) idle", ours) == "this_cluster"
    )
    assert activity._whose("postgres: orderflow other 127.0.0.1(4) idle", ours) == "other_databases"
    assert activity._whose("postgres: checkpointer", ours) == "background"
    assert activity._whose("postgres: autovacuum worker b1_ingest", ours) == "background"


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    """The bench's own PostgreSQL configuration on a private server; databases only."""
    infra = Infra(f"test-activity-{secrets.token_hex(3)}", 0, 0, free_port())
    server = infra.postgres
    server.start()
    try:
        cluster = Cluster(infra, "act")
        for service in SERVICES:
            server.create_database(cluster.database(service))
        yield cluster
    finally:
        server.stop()
        shutil.rmtree(infra.run_dir, ignore_errors=True)


INSERT = "INSERT INTO t SELECT g, repeat('x', 200) FROM generate_series(1, $1) g"
NORMALIZED = "INSERT INTO t SELECT g, repeat($2, $3) FROM generate_series($4, $1) g"


@pytest.mark.integration
async def test_a_run_reports_its_checkpoint_wal_statements_and_autovacuum(
    cluster: Cluster,
) -> None:
    admin = await asyncpg.connect(cluster.infra.dsn("postgres"))
    conn = await asyncpg.connect(cluster.dsn("fulfillment"))
    try:
        await admin.execute("ALTER SYSTEM SET autovacuum_naptime = 1")
        await admin.execute("SELECT pg_reload_conf()")
        await conn.execute("CREATE TABLE t (id int, body text)")
        await conn.execute(INSERT, 10)  # before the run: not counted
        watch = activity.Activity(cluster)
        await watch.start()
        await conn.execute(INSERT, 3000)
        # Inserting 3,000 rows can take less than the kernel's 10 ms CPU tick, so the backend
        # also burns some CPU of its own that its /proc figures cannot round away.
        await conn.fetchval("SELECT count(*) FROM generate_series(1, 3000000)")
        await admin.execute("CHECKPOINT")
        for _ in range(100):  # autovacuum's naptime is 1 s here
            if await conn.fetchval(
                "SELECT autoanalyze_count FROM pg_stat_user_tables WHERE relname = 't'"
            ):
                break
            await asyncio.sleep(0.1)
        report = await watch.stop(3000)
    finally:
        await conn.close()
        await admin.close()

    assert report.checkpoints.requested == 1
    assert [c.reason for c in report.checkpoints.logged] == ["immediate force wait"]
    assert (report.checkpoints.logged[0].buffers or 0) > 0
    assert report.wal.bytes > 3000 * 200
    assert report.wal.bytes_per_order == round(report.wal.bytes / 3000)
    statements = report.statements
    assert isinstance(statements, Statements)
    ours = [s for s in statements.top if s.query.startswith("INSERT INTO t")]
    assert [(s.database, s.calls, s.rows, s.query) for s in ours] == [
        ("fulfillment", 1, 3000, NORMALIZED)
    ]
    assert report.autovacuum.tables["fulfillment.t"].autoanalyze == 1
    assert report.autovacuum.logged["fulfillment.t"].analyze == 1
    assert report.postgres_log == str(cluster.infra.postgres.log_file)
    assert report.postgres_cpu is not None
    assert report.postgres_cpu.this_cluster >= 0.1  # the generate_series backend
    assert statements.this_cluster.wal_bytes > 3000 * 200
    assert report.sessions_opened["fulfillment"] == 1  # Activity's own, when the run started
    assert "checkpoints 1 (req 1)" in activity.summary(report)
