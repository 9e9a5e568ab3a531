"""Process roles every service shares: ``migrate``, ``api``, ``worker``, ``relay`` or ``all``,
plus the roles a service declares for itself (``ServiceSpec.roles``).

A service's ``bootstrap.py`` describes itself with a ``ServiceSpec`` (its tables, handlers,
topics, routers, migrations) and builds its typed dependencies (its settings, clock, PII
sealer, Amazon clients, unit-of-work factory: a dataclass of its own, ``Resources.deps``);
``main`` opens the resources for the chosen role and runs it. The
local stack runs ``all`` (API, consumer, relay and the service's own roles in one process);
production runs each role in its own process so each scales on its own.

A service's own role (ingest's ``notifications``, a long poll of Amazon's SQS queue) is a job
like a background job, run supervised (``supervise``) in a process that serves the ops
endpoints as a worker or relay does, and inside ``all``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import logging
import signal
from collections.abc import AsyncIterator, Awaitable, Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, TypeVar

import uvicorn
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from shared import metrics
from shared.api.app import create_app
from shared.db.migrations import upgrade_to_head
from shared.db.session import make_engine, make_sessionmaker, ping
from shared.kafka.client import ensure_topics, make_consumer, make_producer
from shared.kafka.producer import ProducerSlot
from shared.logs import configure_logging, correlated, uvicorn_log_config
from shared.messaging.deadletters import DeadLetters
from shared.messaging.housekeeping import run_housekeeping
from shared.messaging.inbox import EventApplier, Handler
from shared.messaging.relay import OutboxListener, OutboxRelay
from shared.messaging.runner import ConsumerRunner
from shared.messaging.tables import PlumbingTables
from shared.progress import Progress
from shared.settings import ServiceSettings
from shared.topics import dead_letter_topic
from shared.unit_of_work import UnitOfWork

log = logging.getLogger(__name__)

S = TypeVar("S", bound=ServiceSettings)
D = TypeVar("D")

ROLES = ("migrate", "api", "worker", "relay", "all")


@dataclass
class Resources(Generic[D]):
    """What a running process holds open; built once by ``open_resources``. ``deps`` is the
    service's own typed dependencies (its ``bootstrap`` builds them)."""

    settings: ServiceSettings
    tables: PlumbingTables
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    applier: EventApplier[Any]
    dead_letters: DeadLetters
    deps: D
    # The relay's and the worker's progress, when this process runs them (``/readyz``).
    progress: list[Progress] = field(default_factory=list)

    def track(self, service: str, role: str) -> Progress:
        progress = Progress(
            service=service,
            role=role,
            stall_seconds=self.settings.stall_seconds,
        )
        self.progress.append(progress)
        return progress


@dataclass(frozen=True)
class ServiceSpec(Generic[S, D]):
    """A service: ``dependencies`` builds its typed dependencies from its settings and
    sessionmaker; ``handlers`` maps the event types it consumes to their handlers, each given
    the unit of work ``unit_of_work`` joins to the consumer's transaction."""

    name: str
    tables: PlumbingTables
    migrations_dir: Path
    dependencies: Callable[[S, async_sessionmaker[AsyncSession]], D]
    build_app: Callable[[Resources[D]], FastAPI]
    handlers: Callable[[D], dict[str, Handler[Any]]]
    unit_of_work: Callable[[D, AsyncSession], UnitOfWork]
    subscribes: Sequence[str] = ()
    # Event types whose handlers apply an event only when its version is newer than the one
    # held, so a repeat (the same event published twice) changes nothing: they take no inbox
    # row (docs/adr/0057-offsets-stored-with-the-data.md).
    by_version: Collection[str] = ()
    publishes: Sequence[str] = ()
    background: Sequence[Callable[[Resources[D]], Awaitable[None]]] = ()
    # Roles of this service's own, by name (``python -m <service> <name>``): each a job run
    # supervised until the process stops, with the ops endpoints, and inside ``all``.
    roles: Mapping[str, Callable[[Resources[D]], Awaitable[None]]] = field(default_factory=dict)

    def role_names(self) -> tuple[str, ...]:
        """Every role ``python -m <service>`` takes: the shared ones, then its own."""
        return (*ROLES, *self.roles)


@contextlib.asynccontextmanager
async def open_resources(spec: ServiceSpec[S, D], settings: S) -> AsyncIterator[Resources[D]]:
    engine = make_engine(
        settings.database_url,
        pool_size=settings.db_pool_size,
        pre_ping=settings.db_pool_pre_ping,
    )
    sessions = make_sessionmaker(engine)
    deps = spec.dependencies(settings, sessions)
    applier: EventApplier[Any] = EventApplier(
        tables=spec.tables,
        handlers=spec.handlers(deps),
        unit_of_work=lambda session: spec.unit_of_work(deps, session),
        by_version=spec.by_version,
    )
    resources = Resources(
        settings=settings,
        tables=spec.tables,
        engine=engine,
        sessions=sessions,
        applier=applier,
        dead_letters=DeadLetters(sessions=sessions, applier=applier, service=spec.name),
        deps=deps,
    )
    try:
        yield resources
    finally:
        await engine.dispose()


def install_readiness(app: FastAPI, resources: Resources[Any]) -> None:
    """Register the checks ``/readyz`` runs: the database and Kafka are reachable, and no
    relay or worker of this process is stalled (``shared.progress``)."""
    app.state.readiness_checks.update(
        database=lambda: ping(resources.engine),
        kafka=lambda: kafka_reachable(resources.settings.kafka_bootstrap_servers),
        progress=lambda: making_progress(resources),
    )
    app.state.resources = resources
    app.state.dead_letters = resources.dead_letters


async def kafka_reachable(bootstrap: str) -> None:
    """Some server of the comma-separated bootstrap list accepts a connection (in a cluster,
    one broker down does not make the service unready); the last error if none does."""
    error: OSError = OSError(f"no Kafka bootstrap server in {bootstrap!r}")
    for server in (s.strip() for s in bootstrap.split(",") if s.strip()):
        host, _, port = server.rpartition(":")
        try:
            _, writer = await asyncio.open_connection(host or "127.0.0.1", int(port))
        except OSError as exc:
            error = exc
            continue
        writer.close()
        await writer.wait_closed()
        return
    raise error


async def making_progress(resources: Resources[Any]) -> None:
    for progress in resources.progress:
        progress.check()


# How long a worker waits before it starts a new consumer after its consumer failed.
CONSUMER_RESTART_SECONDS = (0.5, 10.0)


async def run_worker(
    spec: ServiceSpec[Any, Any], resources: Resources[Any], stop: asyncio.Event
) -> None:
    """Consume until ``stop``. A consumer that fails (an error out of its poll, its commit or
    its start) is closed and a new one joins the group in its place, after a pause that doubles
    up to 10 s while they keep failing: the process stays up and its partitions move on
    (docs/adr/0027-supervised-consumers-and-jobs.md)."""
    with correlated(f"{spec.name}-worker"):  # each event then binds its own
        await _run_worker(spec, resources, stop)


async def _run_worker(
    spec: ServiceSpec[Any, Any], resources: Resources[Any], stop: asyncio.Event
) -> None:
    settings = resources.settings
    topics = [settings.topic(t) for t in spec.subscribes]
    if not topics:
        await stop.wait()
        return
    progress = resources.track(spec.name, "worker")
    if not await _ensure_patiently(settings, topics, stop):
        return
    pause, longest = CONSUMER_RESTART_SECONDS
    while not stop.is_set():
        consumer = make_consumer(
            settings.kafka_bootstrap_servers,
            group_id=group_id(spec.name, settings),
            topics=topics,
            client_id=f"{spec.name}-worker",
        )
        runner = ConsumerRunner(
            consumer=consumer,
            sessions=resources.sessions,
            applier=resources.applier,
            service=spec.name,
            max_attempts=settings.consumer_max_attempts,
            batch_size=settings.consumer_batch_size,
            progress=progress,
        )
        runner.subscribe(topics)
        try:
            await consumer.start()
            await _until_stopped(runner.run(), runner.stop, stop)
            return
        except Exception as exc:
            log.exception("the consumer failed; a new one rejoins the group")
            progress.failed(exc)
            metrics.CLIENTS_REPLACED.labels(spec.name, "consumer").inc()
        finally:
            try:
                await asyncio.wait_for(consumer.stop(), 30.0)
            except Exception as exc:
                log.warning("closing the failed consumer failed", extra={"error": repr(exc)})
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), pause)
        pause = min(pause * 2, longest)


async def run_relay(
    spec: ServiceSpec[Any, Any], resources: Resources[Any], stop: asyncio.Event
) -> None:
    with correlated(f"{spec.name}-relay"):
        await _run_relay(spec, resources, stop)


async def _run_relay(
    spec: ServiceSpec[Any, Any], resources: Resources[Any], stop: asyncio.Event
) -> None:
    settings = resources.settings
    progress = resources.track(spec.name, "relay")
    topics = [settings.topic(t) for t in (*spec.publishes, *spec.subscribes)]
    if not await _ensure_patiently(settings, topics, stop):
        return
    producers = ProducerSlot(
        lambda: make_producer(settings.kafka_bootstrap_servers, client_id=f"{spec.name}-relay"),
        service=spec.name,
    )
    wakeup = asyncio.Event()
    relay = OutboxRelay(
        sessions=resources.sessions,
        outbox=resources.tables.outbox,
        producer=producers,
        batch_size=settings.relay_batch_size,
        idle_seconds=settings.relay_idle_seconds,
        service=spec.name,
        wakeup=wakeup,
        ack_timeout=settings.relay_ack_timeout_seconds,
        progress=progress,
    )
    listener = asyncio.ensure_future(OutboxListener(settings.database_url, wakeup).run(stop))
    housekeeping = asyncio.ensure_future(
        run_housekeeping(
            resources.sessions,
            resources.tables,
            service=spec.name,
            outbox_days=settings.outbox_retention_days,
            inbox_days=settings.inbox_retention_days,
            idempotency_hours=settings.idempotency_key_hours,
        )
    )
    try:
        await _until_stopped(relay.run(), relay.stop, stop)
    finally:
        housekeeping.cancel()
        listener.cancel()
        await asyncio.gather(housekeeping, listener, return_exceptions=True)
        await producers.close()


def group_id(service: str, settings: ServiceSettings) -> str:
    return f"{settings.kafka_topic_prefix}orderflow-{service}"


async def _ensure_patiently(
    settings: ServiceSettings, topics: list[str], stop: asyncio.Event
) -> bool:
    """Create the topics, retrying until Kafka answers (False: stopped first). A worker or
    relay that started while the broker was down used to exit at once ("Unable to bootstrap"),
    seen in make faults when a slow boot met a broker restart."""
    pause, longest = CONSUMER_RESTART_SECONDS
    while not stop.is_set():
        try:
            await _ensure(settings, topics)
            return True
        except Exception as exc:
            log.warning("cannot create the topics yet; retrying", extra={"error": repr(exc)})
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), pause)
        pause = min(pause * 2, longest)
    return False


async def _ensure(settings: ServiceSettings, topics: list[str]) -> None:
    with_dlq = [*topics, *(dead_letter_topic(t) for t in topics)]
    await ensure_topics(
        settings.kafka_bootstrap_servers,
        with_dlq,
        partitions=settings.kafka_partitions,
        replication_factor=settings.kafka_replication_factor,
    )


async def _until_stopped(
    work: Awaitable[None], stop_work: Callable[[], None], stop: asyncio.Event
) -> None:
    task = asyncio.ensure_future(work)
    stopper = asyncio.ensure_future(stop.wait())
    await asyncio.wait({task, stopper}, return_when=asyncio.FIRST_COMPLETED)
    stop_work()
    stopper.cancel()
    await task


async def _serve_api(
    spec: ServiceSpec[Any, Any], resources: Resources[Any], stop: asyncio.Event
) -> None:
    await _serve(spec.build_app(resources), resources.settings.http_port, resources, stop)


async def serve_ops(
    spec: ServiceSpec[Any, Any], resources: Resources[Any], stop: asyncio.Event
) -> None:
    """A ``worker``, ``relay`` or service-declared role's process's own ``/healthz``,
    ``/readyz`` and ``/metrics`` on ``OPS_PORT`` (nothing when it is unset): what the process
    counts (events consumed, dead letters, rows published) lives in its own registry, and only
    it can tell it is alive."""
    port = resources.settings.ops_port
    if port is None:
        await stop.wait()
        return
    app = create_app(
        settings=resources.settings,
        title=f"{spec.name} ops",
        description="Health, readiness and metrics of a process that serves no API.",
        routers=(),
    )
    install_readiness(app, resources)
    await _serve(app, port, resources, stop)


async def _serve(app: FastAPI, port: int, resources: Resources[Any], stop: asyncio.Event) -> None:
    config = uvicorn.Config(
        app,
        host=resources.settings.http_host,
        port=port,
        log_config=uvicorn_log_config(),
        access_log=False,
        lifespan="on",
    )
    server = uvicorn.Server(config)
    server.capture_signals = contextlib.nullcontext  # type: ignore[method-assign,assignment]
    serving = asyncio.ensure_future(server.serve())
    await asyncio.wait(
        {serving, asyncio.ensure_future(stop.wait())}, return_when=asyncio.FIRST_COMPLETED
    )
    server.should_exit = True
    await serving


# How long a background job that failed waits before it is started again (doubling).
JOB_RESTART_SECONDS = (1.0, 60.0)


async def run_background(
    spec: ServiceSpec[Any, Any], resources: Resources[Any], stop: asyncio.Event
) -> None:
    await _run_supervised(spec, spec.background, resources, stop)


def own_roles(*names: str) -> Part:
    """The part that runs these roles of the service's own (``ServiceSpec.roles``)."""

    async def run_own_roles(
        spec: ServiceSpec[Any, Any], resources: Resources[Any], stop: asyncio.Event
    ) -> None:
        await _run_supervised(spec, [spec.roles[name] for name in names], resources, stop)

    return run_own_roles


async def _run_supervised(
    spec: ServiceSpec[Any, Any],
    jobs: Sequence[Callable[[Resources[Any]], Awaitable[None]]],
    resources: Resources[Any],
    stop: asyncio.Event,
) -> None:
    """Each job supervised until ``stop``; a job that returns (disabled) leaves the others."""
    tasks = [asyncio.ensure_future(supervise(job, resources, service=spec.name)) for job in jobs]
    await stop.wait()
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


async def supervise(
    job: Callable[[Resources[Any]], Awaitable[None]], resources: Resources[Any], *, service: str
) -> None:
    """Run a background job; start it again when it fails. Every job loops on its own and
    catches what one round raises; what escapes it (its set-up, a bug) must not end it for the
    life of the process, so it is logged, counted and the job started again after a pause that
    doubles. A job that returns (one-shot, or disabled by its settings) is done
    (docs/adr/0027-supervised-consumers-and-jobs.md)."""
    name = getattr(job, "__name__", repr(job)).strip("_")
    pause, longest = JOB_RESTART_SECONDS
    while True:
        try:
            with correlated(f"{service}-{name}"):  # a correlation id of its own for its lines
                await job(resources)
            return
        except Exception:
            log.exception("background job failed; starting it again", extra={"job": name})
            metrics.BACKGROUND_JOB_RESTARTS.labels(service, name).inc()
        await asyncio.sleep(pause)
        pause = min(pause * 2, longest)


Part = Callable[[ServiceSpec[Any, Any], Resources[Any], asyncio.Event], Awaitable[None]]


def parts_of(spec: ServiceSpec[Any, Any], role: str) -> list[Part]:
    """What a process of ``role`` runs side by side."""
    if role in spec.roles:
        return [own_roles(role), serve_ops]
    parts: dict[str, list[Part]] = {
        "api": [_serve_api, run_background],
        "worker": [run_worker, serve_ops],
        "relay": [run_relay, serve_ops],
        "all": [_serve_api, run_background, run_worker, run_relay, own_roles(*spec.roles)],
    }
    return parts[role]


async def _run_roles(spec: ServiceSpec[Any, Any], settings: ServiceSettings, role: str) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    parts = parts_of(spec, role)
    collector = asyncio.ensure_future(collect_garbage())
    try:
        async with open_resources(spec, settings) as resources:
            tasks = [asyncio.ensure_future(part(spec, resources, stop)) for part in parts]
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
            stop.set()
            await asyncio.gather(*tasks, return_exceptions=True)
            for task in done:
                if task.exception() is not None:
                    raise task.exception()  # type: ignore[misc]
    finally:
        collector.cancel()


# How often ``collect_garbage`` runs a full collection, whatever the collector's counts say.
GC_EVERY_SECONDS = 10.0


def tune_gc() -> None:
    """Fewer cyclic-GC passes: move what is loaded at start-up out of the collector's way and
    collect the young generation when 50,000 more container objects are alive than at the
    last collection, instead of 700. A batch allocates hundreds of thousands of short-lived
    objects, almost none in cycles: reference counting frees them at once, and
    ``collect_garbage`` frees the rest. See docs/adr/0006-garbage-collector-tuning.md."""
    gc.freeze()
    gc.set_threshold(50_000, 20, 20)


async def collect_garbage(every: float = GC_EVERY_SECONDS) -> None:
    """A full collection every ``every`` seconds, besides those ``tune_gc``'s counts start.

    The counts are of container objects, not bytes, and a reference cycle of a few
    containers can hold a lot (SQLAlchemy memoizes an expression's comparator on it, so a
    statement built around a list of values holds the list in a cycle). Where little else
    stays alive, such cycles would wait minutes for a collection; this bounds the wait. With
    start-up objects frozen, a full collection walks only what was made since. See
    docs/adr/0006-garbage-collector-tuning.md."""
    while True:
        await asyncio.sleep(every)
        gc.collect()


def main(
    spec: ServiceSpec[S, D],
    settings_factory: Callable[[], S],
    argv: Sequence[str] | None = None,
) -> None:
    parser = argparse.ArgumentParser(prog=f"python -m {spec.name}")
    parser.add_argument("role", choices=spec.role_names(), help="what this process runs")
    role = parser.parse_args(argv).role
    settings = settings_factory()
    configure_logging(service=spec.name, level=settings.log_level)
    if role == "migrate":
        upgrade_to_head(spec.migrations_dir, settings.database_url)
        log.info("migrated to head")
        return
    import uvloop

    tune_gc()
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(_run_roles(spec, settings, role))
