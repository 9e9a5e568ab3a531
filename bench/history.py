"""``make bench-history``: the read routes' latency as a seller's history grows.

On the benchmark PostgreSQL (``.run/bench/``, started if needed, stopped afterwards if this run
started it), fulfillment, defects and analytics each get a fresh, migrated database, grown step
by step to each size of ``BENCH_HISTORY_SIZES`` (default 10,000, 100,000 and 1,000,000) up to
``BENCH_HISTORY_ORDERS`` (default 1,000,000) orders of one seller, plus as many again spread over
1,000 other sellers (``bench.history_data``), loaded through the stores' own write paths in
process (``bench.history_load``: the consumers' ``apply_many``, fulfillment's confirm_shipment,
defects' file_claim; ADR 0053). At each size, every read a seller makes of its history is
timed through the service's real HTTP API (the FastAPI app over ASGI in process, with a
seller's API key): each Manage Orders filter (as sent, with Seller Central's default 7 days,
and over the whole history), the sort by ship-by date both ways over the whole history, sales
by day, week and SKU over 30 and 365 days, the ads summary over 30 and 365 days, account
health, problem orders, the trace of one order; and one run of the alert job over every seller.
Each is called ``BENCH_HISTORY_ITERATIONS`` times (100) or for ``BENCH_HISTORY_SECONDS`` (5, at
least 3 calls): p50 and p99 latency. The request's
slowest SQL statement (captured from SQLAlchemy's cursor events) is run again under
``EXPLAIN (ANALYZE, BUFFERS)``: rows read (rows the scans produced plus those their filters
removed), shared buffers hit and read, and the scans.

Targets (docs/performance/method.md), judged at 1,000,000 of the seller's orders: every
Manage Orders search p99 < 100 ms; sales, ads summary and account health p99 < 300 ms over
365 days; the trace p99 < 100 ms; from 100,000 to 1,000,000 orders, an indexed lookup's p50
at most twice as long.

``BENCH_HISTORY_KEEP=1`` keeps the databases; ``BENCH_HISTORY_REUSE=<tag>`` measures kept ones
again (migrated to this tree's head) without loading them. ``BENCH_HISTORY_ONLY`` (parts of read
names, comma-separated) measures only the reads so named.

Prints a summary per size, the targets and the growth, then the JSON document (also saved
under ``bench/results/``) as the last line. Figures only: nothing fails because a read is slow.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import httpx
import uvloop
from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncEngine

from bench.cluster import Infra
from bench.common import Machine, Percentiles, machine, percentiles, save
from bench.history_data import CATALOGUE, HISTORY_DAYS, OTHERS, SELLER, WORDS, History
from bench.history_load import SERVICES, Loader, settings_of, spec_of
from bench.report import OMIT
from devstack import config
from devstack.postgres import run_psql
from shared.db.migrations import upgrade_to_head
from shared.runtime import Resources, open_resources, tune_gc


def infra() -> Infra:
    """Its own PostgreSQL (``.run/bench-history/``, port ``BENCH_HISTORY_POSTGRES_PORT``,
    25442), set up as ``make bench``'s is but apart from it: a history of 2,000,000 orders is
    gigabytes a store, and ``make bench`` drops every database when it starts its server.
    ``BENCH_HISTORY_SERVER=test``: the test stack's PostgreSQL (the quick test in
    tests/bench/)."""
    if os.environ.get("BENCH_HISTORY_SERVER") == "test":
        return Infra(
            "test",
            config.TEST_KAFKA_PORT,
            config.TEST_KAFKA_CONTROLLER_PORT,
            config.TEST_POSTGRES_PORT,
            postgres_dir="pg",
        )
    return Infra(
        "bench-history",
        kafka_port=0,  # no Kafka here
        controller_port=0,
        postgres_port=int(os.environ.get("BENCH_HISTORY_POSTGRES_PORT", "25442")),
    )


API_KEY = "bench-history-seller"
KEYS = f"{API_KEY}=seller:{SELLER}"
SEARCH_P99_MS = 100.0
REPORT_P99_MS = 300.0
TRACE_P99_MS = 100.0
GROWTH_MAX = 2.0
TARGET_SIZE = 1_000_000
# Reads that find a few orders whatever the history's size: with an index, 10 times the
# history costs them little more (the growth target).
LOOKUPS = ("order id", "ASIN", "SKU", "buyer e-mail", "title words", "tracking number")


@dataclass(frozen=True)
class Plan:
    """The request's SQL under ``EXPLAIN (ANALYZE, BUFFERS)``: every SELECT it ran (the
    ``EXPLAINED`` slowest of them when there were more), summed; the slowest one's text."""

    statements: int  # SQL statements the request ran
    explained: int  # of which were run again under EXPLAIN
    execution_ms: float  # their execution time in PostgreSQL, summed
    rows_read: int  # rows the scans produced plus those their filters removed, every loop
    rows_returned: int
    shared_hit_blocks: int
    shared_read_blocks: int
    scans: list[str]  # "Seq Scan on orders", "Index Scan using ... on orders", ...
    slowest_sql: str


@dataclass(frozen=True)
class ReadFigures:
    name: str
    service: str
    request: str  # the route and its query (or the job)
    samples: int
    latency: Percentiles
    status: int  # the HTTP status of the last call (200; 0 for the alert job)
    found: int | None  # items, series rows or events in the answer
    plan: Plan | None = field(default=None, metadata=OMIT)


@dataclass(frozen=True)
class SizeRun:
    seller_orders: int
    other_orders: int
    history_days: float  # how far back the seller's history reaches at this size
    load_seconds: float  # loading the orders added since the size before, with the vacuum
    loaded_per_s: float  # orders (both kinds) a second over that load
    shipments: int  # the seller's shipments confirmed through fulfillment so far
    claims: int  # the seller's A-to-z claims filed through defects so far
    database_mib: dict[str, float]
    reads: list[ReadFigures]


@dataclass(frozen=True)
class TargetCheck:
    read: str
    target_ms: float
    p99_ms: float | None
    at_orders: int
    met: bool | None  # None: the run did not reach 1,000,000 orders


@dataclass(frozen=True)
class GrowthCheck:
    read: str
    from_orders: int
    to_orders: int
    p50_from_ms: float | None
    p50_to_ms: float | None
    ratio: float | None
    met: bool | None  # None: the run did not measure 100,000 and 1,000,000 orders


@dataclass(frozen=True)
class Report:
    """``make bench-history``'s document."""

    machine: Machine
    seller_orders: int
    other_sellers: int
    history_days: int
    iterations: int
    seconds_per_read: float
    batch: int
    load: str
    runs: list[SizeRun]
    targets: list[TargetCheck]
    growth: list[GrowthCheck]
    benchmark: str = "history"


# --- the reads -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Read:
    name: str
    service: str
    request: Callable[[int], str]  # the i-th call's path and query (GET); "" for the alert job


def _q(path: str, **params: Any) -> str:
    return f"{path}?{urlencode(params, doseq=True)}" if params else path


def reads(loader: Loader, now: datetime) -> list[Read]:
    s = loader.samples
    oldest = (loader.history.oldest - timedelta(days=1)).isoformat()
    today = now.date()
    month = (today - timedelta(days=29)).isoformat()
    year = (today - timedelta(days=364)).isoformat()
    middle = now - (now - loader.history.oldest) / 2

    def pick(values: list[str]) -> Callable[[int], str]:
        return lambda i: values[i % len(values)] if values else "none"

    order_id, email, tracking = pick(s.order_ids), pick(s.emails), pick(s.tracking)

    def asin(i: int) -> str:
        return f"B0{(i * 37) % CATALOGUE:08d}"

    def sku(i: int) -> str:
        return f"SKU-{(i * 53) % CATALOGUE:05d}"

    def word(i: int) -> str:
        return WORDS[i % len(WORDS)]

    search: list[tuple[str, Callable[[int], dict[str, Any]]]] = [
        ("ASIN", lambda i: {"asin": asin(i)}),
        ("SKU", lambda i: {"seller_sku": sku(i)}),
        ("buyer e-mail", lambda i: {"buyer_email": email(i)}),
        ("title words", lambda i: {"title": word(i)}),
        ("tracking number", lambda i: {"tracking_number": tracking(i)}),
        ("carrier", lambda i: {"carrier_code": ("UPS", "FedEx")[i % 2]}),
        ("status", lambda i: {"status": ("Shipped", "Unshipped", "Canceled")[i % 3]}),
        ("sales channel", lambda i: {"sales_channel": ("Amazon.ca", "Amazon.co.uk")[i % 2]}),
        ("ship service", lambda i: {"ship_service_level": ("Expedited", "NextDay")[i % 2]}),
    ]
    out = [
        Read(
            "search: order id",
            "fulfillment",
            lambda i: _q("/v1/orders", amazon_order_id=order_id(i)),
        ),
        Read(
            "search: date range",
            "fulfillment",
            lambda i: _q(
                "/v1/orders",
                purchase_date_from=(middle - timedelta(days=30 + i % 7)).isoformat(),
                purchase_date_to=(middle - timedelta(days=i % 7)).isoformat(),
            ),
        ),
    ]
    for name, params in search:
        out.append(Read(f"search: {name}", "fulfillment", _search(params, None)))
        out.append(Read(f"search: {name}, all history", "fulfillment", _search(params, oldest)))
    for order, named in (("asc", "ascending"), ("desc", "descending")):
        by_ship = {"sort": "latest_ship_date", "order": order}
        out.append(
            Read(
                f"search: ship-by date {named}, all history",
                "fulfillment",
                _search(_always(by_ship), oldest),
            )
        )
    for days, start in (("30", month), ("365", year)):
        for granularity, group_by in (("day", "none"), ("week", "none"), ("day", "sku")):
            label = "SKU" if group_by == "sku" else granularity
            query = {
                "from": start,
                "to": today.isoformat(),
                "granularity": granularity,
                "group_by": group_by,
            }
            out.append(
                Read(
                    f"sales by {label}, {days} days", "analytics", _fixed(_q("/v1/sales", **query))
                )
            )
        ads = {"from": start, "to": today.isoformat(), "group_by": "asin"}
        out.append(
            Read(f"ads summary, {days} days", "analytics", _fixed(_q("/v1/ads/summary", **ads)))
        )
    out += [
        Read("account health", "analytics", _fixed("/v1/account-health")),
        Read("problem orders", "defects", _fixed("/v1/problem-orders")),
        Read("trace of one order", "analytics", lambda i: f"/v1/orders/{order_id(i)}/trace"),
        Read("alert job, every seller", "analytics", _fixed("")),
    ]
    return out


def _always(query: dict[str, Any]) -> Callable[[int], dict[str, Any]]:
    return lambda _: dict(query)


def _chosen(all_reads: list[Read]) -> list[Read]:
    """``BENCH_HISTORY_ONLY`` (comma-separated parts of names): only the reads so named."""
    parts = [p.strip() for p in os.environ.get("BENCH_HISTORY_ONLY", "").split(",") if p.strip()]
    return [r for r in all_reads if not parts or any(p in r.name for p in parts)]


def _search(params: Callable[[int], dict[str, Any]], since: str | None) -> Callable[[int], str]:
    def request(i: int) -> str:
        query = params(i)
        if since is not None:
            query["purchase_date_from"] = since
        return _q("/v1/orders", **query)

    return request


def _fixed(request: str) -> Callable[[int], str]:
    return lambda _: request


# --- measuring -------------------------------------------------------------------------------


class Statements:
    """The SQL statements an engine runs while ``capturing``, with their durations."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.capturing = False
        self.seen: list[tuple[float, str, Any]] = []
        sync = engine.sync_engine
        event.listen(sync, "before_cursor_execute", self._before)
        event.listen(sync, "after_cursor_execute", self._after)

    def _before(self, conn: Any, cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        conn.info["bench_started"] = time.perf_counter()

    def _after(self, conn: Any, cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        if self.capturing:
            took = time.perf_counter() - conn.info.pop("bench_started", time.perf_counter())
            self.seen.append((took, statement, parameters))

    @asynccontextmanager
    async def capture(self) -> AsyncIterator[list[tuple[float, str, Any]]]:
        self.seen, self.capturing = [], True
        try:
            yield self.seen
        finally:
            self.capturing = False


EXPLAINED = 20


async def explain(resources: Resources[Any], seen: Sequence[tuple[float, str, Any]]) -> Plan | None:
    selects = [s for s in seen if s[1].lstrip().upper().startswith(("SELECT", "WITH"))]
    if not selects:
        return None
    slowest = sorted(selects, key=lambda s: s[0], reverse=True)[:EXPLAINED]
    documents = []
    async with resources.engine.connect() as conn:
        for _, statement, parameters in slowest:
            result = await conn.exec_driver_sql(
                "EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) " + statement, parameters
            )
            document = result.scalar_one()
            documents.append(json.loads(document) if isinstance(document, str) else document)
        await conn.rollback()
    scans: list[str] = []
    rows_read = returned = hit = read = 0
    took = 0.0
    for document in documents:
        top = document[0]
        plan = top["Plan"]
        rows_read += _rows_read(plan, scans)
        returned += int(plan.get("Actual Rows", 0))
        hit += int(plan.get("Shared Hit Blocks", 0))
        read += int(plan.get("Shared Read Blocks", 0))
        took += float(top.get("Execution Time", 0.0))
    return Plan(
        statements=len(seen),
        explained=len(documents),
        execution_ms=round(took, 2),
        rows_read=rows_read,
        rows_returned=returned,
        shared_hit_blocks=hit,
        shared_read_blocks=read,
        scans=sorted(set(scans)),
        slowest_sql=" ".join(slowest[0][1].split())[:600],
    )


def _rows_read(node: dict[str, Any], scans: list[str]) -> int:
    total = 0
    kind = str(node.get("Node Type", ""))
    if "Scan" in kind and "Relation Name" in node:
        loops = int(node.get("Actual Loops", 1))
        produced = float(node.get("Actual Rows", 0)) + float(node.get("Rows Removed by Filter", 0))
        total += int(produced * loops)
        index = f" using {node['Index Name']}" if "Index Name" in node else ""
        scans.append(f"{kind}{index} on {node['Relation Name']}")
    for child in node.get("Plans", []):
        total += _rows_read(child, scans)
    return total


def _found(body: Any) -> int | None:
    if not isinstance(body, dict):
        return None
    for key in ("items", "series", "events", "metrics"):
        value = body.get(key)
        if isinstance(value, list):
            return len(value)
    return None


class Bench:
    def __init__(
        self, resources: dict[str, Resources[Any]], iterations: int, seconds: float
    ) -> None:
        self.resources = resources
        self.iterations = iterations
        self.seconds = seconds
        self.statements = {s: Statements(r.engine) for s, r in resources.items()}
        self.clients: dict[str, httpx.AsyncClient] = {}

    async def __aenter__(self) -> Bench:
        for service, resources in self.resources.items():
            transport = httpx.ASGITransport(app=spec_of(service).build_app(resources))
            self.clients[service] = httpx.AsyncClient(
                transport=transport,
                base_url="http://bench",
                headers={"Authorization": f"Bearer {API_KEY}"},
                timeout=600,
            )
        return self

    async def __aexit__(self, *exc: object) -> None:
        for client in self.clients.values():
            await client.aclose()

    async def call(self, read: Read, i: int) -> tuple[int, Any]:
        if read.request(i) == "":
            from analytics.service_layer import alerting

            deps = self.resources["analytics"].deps
            await alerting.evaluate(deps.uow, now=deps.now())
            return 0, None
        response = await self.clients[read.service].get(read.request(i))
        return response.status_code, response.json()

    async def measure(self, read: Read) -> ReadFigures:
        status, body = await self.call(read, 0)  # warm: the plan, the caches
        samples: list[float] = []
        deadline = time.monotonic() + self.seconds
        i = 1
        least = min(3, self.iterations)
        while i <= self.iterations and (len(samples) < least or time.monotonic() < deadline):
            started = time.perf_counter()
            status, body = await self.call(read, i)
            samples.append(time.perf_counter() - started)
            i += 1
        async with self.statements[read.service].capture() as seen:
            await self.call(read, 0)
        plan = await explain(self.resources[read.service], seen)
        return ReadFigures(
            name=read.name,
            service=read.service,
            request=read.request(0) or "alerting.evaluate (every seller)",
            samples=len(samples),
            latency=percentiles(samples),
            status=status,
            found=_found(body),
            plan=plan,
        )


# --- the run ---------------------------------------------------------------------------------


def sizes_of(total: int) -> list[int]:
    raw = os.environ.get("BENCH_HISTORY_SIZES", "10000,100000,1000000")
    sizes = sorted({int(s) for s in raw.split(",") if s.strip() and int(s) < total} | {total})
    return sizes


@asynccontextmanager
async def stores(
    server: Infra, tag: str, *, reuse: bool
) -> AsyncIterator[dict[str, Resources[Any]]]:
    """A fresh, migrated database for each service, dropped afterwards (unless
    ``BENCH_HISTORY_KEEP=1``), and its resources as the service opens them. ``reuse``: the
    databases exist (kept by an earlier run) and are migrated to this tree's head and kept."""
    names = [f"{tag}_{service}" for service in SERVICES]
    try:
        async with _opened(server, names, create=not reuse) as out:
            yield out
    finally:
        if os.environ.get("BENCH_HISTORY_KEEP") != "1" and not reuse:
            for name in names:
                run_psql(
                    server.postgres.server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'
                )


@asynccontextmanager
async def _opened(
    server: Infra, names: list[str], *, create: bool
) -> AsyncIterator[dict[str, Resources[Any]]]:
    async with AsyncExitStack() as stack:
        out: dict[str, Resources[Any]] = {}
        for service, database in zip(SERVICES, names, strict=True):
            if create:
                server.postgres.create_database(database)
            url = server.postgres.url(database)
            await asyncio.to_thread(upgrade_to_head, spec_of(service).migrations_dir, url)
            settings = settings_of(service, url, KEYS)
            out[service] = await stack.enter_async_context(
                open_resources(spec_of(service), settings)
            )
        out["analytics"].deps.lag = _NoLag()  # no Kafka here: the trace reads no lag
        yield out


async def _reused(
    resources: dict[str, Resources[Any]], total: int, others: int
) -> tuple[History, datetime, int]:
    """The history kept in ``resources``' databases, and its present: the newest order was
    placed one interval before it. The services' clocks run from that present (the run's own
    time added), so "the last 7 days" and "30 days" are the days they were when it loaded."""
    async with resources["fulfillment"].engine.connect() as conn:
        found = (
            await conn.execute(
                text("SELECT count(*), max(purchase_date) FROM orders WHERE seller_id = :s"),
                {"s": SELLER},
            )
        ).one()
    count, newest = int(found[0]), found[1]
    now = newest + timedelta(days=HISTORY_DAYS) / max(1, total) - timedelta(seconds=1)
    started = datetime.now(UTC)
    for r in resources.values():
        r.deps.clock = lambda: now + (datetime.now(UTC) - started)
    print(f"reusing {count} orders of the seller, as of {now.isoformat()}", flush=True)
    return History(total, now, others), now, count


class _NoLag:
    async def lag(self, groups: list[str]) -> dict[str, list[Any]]:
        return {}


async def run() -> Report:
    total = int(os.environ.get("BENCH_HISTORY_ORDERS", "1000000"))
    iterations = int(os.environ.get("BENCH_HISTORY_ITERATIONS", "100"))
    seconds = float(os.environ.get("BENCH_HISTORY_SECONDS", "5"))
    batch = int(os.environ.get("BENCH_HISTORY_BATCH", "1000"))
    now = datetime.now(UTC).replace(microsecond=0)
    others = int(os.environ.get("BENCH_HISTORY_SELLERS", str(OTHERS)))
    history = History(total, now, others)
    server = infra()
    was_running = server.postgres.is_running()
    server.postgres.start()
    runs: list[SizeRun] = []
    try:
        reuse = os.environ.get("BENCH_HISTORY_REUSE", "")
        tag = reuse or f"history{int(time.time())}"
        print(f"databases: {tag}_{{{','.join(SERVICES)}}}", flush=True)
        async with stores(server, tag, reuse=bool(reuse)) as resources:
            kept = 0
            if reuse:
                history, now, kept = await _reused(resources, total, others)
            loader = Loader(resources, history, batch)
            await loader.skip(kept)
            async with Bench(resources, iterations, seconds) as bench:
                for size in [s for s in sizes_of(total) if s >= history.loaded]:
                    added = size - history.loaded
                    took = await loader.grow(added) if added else 0.0
                    print(
                        f"{size} orders of the seller (+{size} others): loaded in {took:.0f} s",
                        flush=True,
                    )
                    figures = []
                    for read in _chosen(reads(loader, now)):
                        figures.append(await bench.measure(read))
                        print("  " + _line(figures[-1]), flush=True)
                    runs.append(
                        SizeRun(
                            seller_orders=size,
                            other_orders=size,
                            history_days=round((now - history.oldest) / timedelta(days=1), 1),
                            load_seconds=round(took, 1),
                            loaded_per_s=round(2 * added / took, 1) if took else 0.0,
                            shipments=loader.shipments,
                            claims=loader.claims,
                            database_mib=await loader.sizes(),
                            reads=figures,
                        )
                    )
                    # Each size's figures kept at once: the largest size takes hours.
                    save(
                        "history-partial", _report(total, others, iterations, seconds, batch, runs)
                    )
    finally:
        if not was_running:
            server.postgres.stop()
    return _report(total, others, iterations, seconds, batch, runs)


def _report(
    total: int, others: int, iterations: int, seconds: float, batch: int, runs: list[SizeRun]
) -> Report:
    return Report(
        machine=machine(),
        seller_orders=total,
        other_sellers=others,
        history_days=HISTORY_DAYS,
        iterations=iterations,
        seconds_per_read=seconds,
        batch=batch,
        load=(
            "in process through the stores' own write paths: each consumer's apply_many "
            "(orders.v1, then the fulfillment.v1 and defects.v1 events their outboxes held, "
            "and ads.v1), fulfillment's confirm_shipment, defects' file_claim; VACUUM "
            "(ANALYZE) after each size"
        ),
        runs=runs,
        targets=targets(runs),
        growth=growth(runs),
    )


def targets(runs: list[SizeRun]) -> list[TargetCheck]:
    if not runs:
        return []
    last = runs[-1]
    out = []
    for figures in last.reads:
        read = figures.name
        target: float | None = None
        if read.startswith("search: "):
            target = SEARCH_P99_MS
        elif "365 days" in read or read == "account health":
            target = REPORT_P99_MS
        elif read == "trace of one order":
            target = TRACE_P99_MS
        if target is None:
            continue
        p99 = figures.latency.p99_ms
        reached = last.seller_orders >= TARGET_SIZE
        out.append(
            TargetCheck(
                read=read,
                target_ms=target,
                p99_ms=p99,
                at_orders=last.seller_orders,
                met=(p99 is not None and p99 < target) if reached else None,
            )
        )
    return out


def growth(runs: list[SizeRun]) -> list[GrowthCheck]:
    if len(runs) < 2:
        return []
    before, after = runs[-2], runs[-1]
    judged = before.seller_orders == TARGET_SIZE // 10 and after.seller_orders == TARGET_SIZE
    p50s = {f.name: f.latency.p50_ms for f in before.reads}
    out = []
    for figures in after.reads:
        lookup = figures.name.removeprefix("search: ").split(",")[0] in LOOKUPS
        if not (lookup or figures.name == "trace of one order"):
            continue
        a, b = p50s.get(figures.name), figures.latency.p50_ms
        ratio = round(b / a, 2) if a and b else None
        out.append(
            GrowthCheck(
                read=figures.name,
                from_orders=before.seller_orders,
                to_orders=after.seller_orders,
                p50_from_ms=a,
                p50_to_ms=b,
                ratio=ratio,
                met=(ratio is not None and ratio <= GROWTH_MAX) if judged else None,
            )
        )
    return out


def _line(f: ReadFigures) -> str:
    plan = f.plan
    rows = (
        f"{plan.rows_read} rows read, {plan.shared_hit_blocks + plan.shared_read_blocks} buffers, "
        f"{plan.statements} statements"
        if plan
        else "no SQL captured"
    )
    return (
        f"{f.name:<40} p50 {f.latency.p50_ms:>9} ms  p99 {f.latency.p99_ms:>9} ms  "
        f"n={f.samples:<3} found {f.found}  {rows}"
    )


def _verdict(met: bool | None) -> str:
    return {True: "met", False: "NOT MET", None: "not judged"}[met]


def main() -> None:
    tune_gc()
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        report = runner.run(run())
    print(
        f"history: {report.seller_orders} orders of one seller over {report.history_days} days, "
        f"as many over {report.other_sellers} others; p50/p99 over up to {report.iterations} "
        f"calls or {report.seconds_per_read} s a read"
    )
    for size in report.runs:
        print(
            f"{size.seller_orders} orders ({size.history_days} days), loaded at "
            f"{size.loaded_per_s}/s, databases {size.database_mib} MiB:"
        )
        for f in size.reads:
            print("  " + _line(f))
    print("targets:")
    for t in report.targets:
        print(
            f"  {t.read:<40} p99 {t.p99_ms} ms < {t.target_ms:.0f} ms at {t.at_orders}: "
            + _verdict(t.met)
        )
    print("growth (p50):")
    for g in report.growth:
        print(
            f"  {g.read:<40} {g.p50_from_ms} ms at {g.from_orders} -> {g.p50_to_ms} ms at "
            f"{g.to_orders}: x{g.ratio} (at most x{GROWTH_MAX:.0f}): {_verdict(g.met)}"
        )
    print(save("history", report))


if __name__ == "__main__":
    main()
