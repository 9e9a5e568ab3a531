"""A run's progress over time: how fast each consumer applied, and who used the CPU, window by
window.

A run's headline figures are averages over the whole run. The same build applied 2,084 orders/s
over 100,000 orders and 2,400-2,500 over 30,000, and an average cannot say whether the long run
was slower throughout or slowed down as it went (tables and indexes growing, a checkpoint, an
autovacuum). ``Timeline`` samples, every ``every_s`` seconds while the run goes on:

- the records on ``orders.v1`` (what ingest's relay has published) and each consumer group's
  committed offsets on it (what each consumer has applied: a service commits right after the
  transaction that applied them);
- each process's CPU seconds (``cluster.cpu_seconds``), PostgreSQL's split between backends and
  background processes (autovacuum, checkpointer, writers).

``report()`` gives the samples, the run cut into ``PARTS`` equal stretches of time (each with its
rates and the cores each process kept busy), and ``during_load``: the rates from the first sample
to the last one before ``load_ended()``. That is the figure a sustained load would see: after the
load generator stops, the consumers drain what is left with the whole machine to themselves, and
a run's average includes that. The cost is one admin request per group, one
``ListOffsets`` and a scan of ``/proc`` per sample.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError

from bench.cluster import CONSUMERS, Cluster, backend_database, cpu_seconds, postgres_cpu
from bench.stores import kafka_clients, partitions

EVERY_S = 2.0
PARTS = 4


@dataclass(frozen=True)
class Sample:
    """One look at the run, ``t`` seconds in: records published on ``orders.v1``, each
    consumer's committed offsets on it, and each process's CPU seconds so far."""

    t: float
    published: int
    applied: dict[str, int]
    cpu: dict[str, float]


@dataclass(frozen=True)
class Stretch:
    """A stretch of the run: orders/s published and applied by each consumer, and cores
    (CPU-seconds a second) per process."""

    from_s: float
    to_s: float
    published_per_s: float
    applied_per_s: dict[str, float]
    cores: dict[str, float]


@dataclass(frozen=True)
class Report:
    every_s: float
    missed_samples: int
    during_load: Stretch | None
    parts: list[Stretch]
    samples: list[Sample]


class Timeline:
    def __init__(self, cluster: Cluster, every_s: float = EVERY_S) -> None:
        self.cluster = cluster
        self.every_s = every_s
        self.samples: list[Sample] = []
        self._task: asyncio.Task[None] | None = None
        self._started = 0.0
        self._load_ended: float | None = None
        self.missed = 0  # samples Kafka could not answer

    async def start(self) -> None:
        self._started = time.monotonic()
        self._task = asyncio.create_task(self._run())

    def load_ended(self) -> None:
        self._load_ended = time.monotonic() - self._started

    async def stop(self) -> Report:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        return self.report()

    async def _run(self) -> None:
        topic = self.cluster.topic("orders.v1")
        async with kafka_clients(self.cluster.infra.bootstrap) as (admin, consumer):
            tps = await partitions(admin, [topic])
            while True:
                try:
                    self.samples.append(await self._sample(admin, consumer, tps, topic))
                except KafkaError:  # a group's coordinator not there yet: the next sample
                    self.missed += 1
                await asyncio.sleep(self.every_s)

    async def _sample(
        self,
        admin: AIOKafkaAdminClient,
        consumer: AIOKafkaConsumer,
        tps: list[TopicPartition],
        topic: str,
    ) -> Sample:
        ends = await consumer.end_offsets(tps) if tps else {}
        postgres = postgres_cpu(self.cluster.infra)  # one scan of /proc for both figures
        applied = {}
        for service in CONSUMERS:
            committed = await admin.list_consumer_group_offsets(self.cluster.group(service))
            applied[service] = sum(
                max(0, m.offset) for tp, m in committed.items() if tp.topic == topic
            )
        return Sample(
            t=round(time.monotonic() - self._started, 2),
            published=int(sum(ends.values())),
            applied=applied,
            cpu={**cpu_seconds(self.cluster, postgres=postgres), **_postgres_split(postgres)},
        )

    def report(self) -> Report:
        loaded = [s for s in self.samples if self._load_ended is None or s.t <= self._load_ended]
        return Report(
            every_s=self.every_s,
            missed_samples=self.missed,
            during_load=next(iter(parts(loaded, 1)), None),
            parts=parts(self.samples),
            samples=self.samples,
        )


def _postgres_split(found: tuple[float, dict[int, tuple[str, float]]] | None) -> dict[str, float]:
    """PostgreSQL's live processes' CPU seconds: backends, and background processes by kind
    (``autovacuum`` workers, the rest as ``pg_background``). A process that exits takes its
    figure with it (``postgres``, from ``cpu_seconds``, keeps it): an autovacuum worker that
    starts and ends within one stretch shows only there."""
    if found is None:
        return {}
    out = {"pg_backends": 0.0, "pg_autovacuum": 0.0, "pg_background": 0.0}
    for title, cpu in found[1].values():
        if "autovacuum" in title:
            out["pg_autovacuum"] += cpu
        elif backend_database(title) is not None:
            out["pg_backends"] += cpu
        else:
            out["pg_background"] += cpu
    return out


def parts(samples: list[Sample], n: int = PARTS) -> list[Stretch]:
    """The run from the first sample to the last in ``n`` equal stretches of time: orders/s
    published and applied by each consumer, and cores (CPU-seconds a second) per process.

    A stretch runs between the samples nearest its ends. Counters that went backwards (a live
    process's figure that dropped when it exited and was replaced) count as zero."""
    if len(samples) < 2:
        return []
    t0, t1 = samples[0].t, samples[-1].t
    out = []
    for k in range(n):
        a = _nearest(samples, t0 + (t1 - t0) * k / n)
        b = _nearest(samples, t0 + (t1 - t0) * (k + 1) / n)
        if b.t - a.t > 0:
            out.append(_stretch(a, b))
    return out


def _stretch(a: Sample, b: Sample) -> Stretch:
    dt = b.t - a.t
    return Stretch(
        from_s=a.t,
        to_s=b.t,
        published_per_s=round((b.published - a.published) / dt, 1),
        applied_per_s={s: round((b.applied[s] - a.applied[s]) / dt, 1) for s in b.applied},
        cores={
            name: round(max(0.0, v - a.cpu.get(name, v)) / dt, 3)
            for name, v in sorted(b.cpu.items())
        },
    )


def _nearest(samples: list[Sample], t: float) -> Sample:
    return min(samples, key=lambda s: abs(s.t - t))


def summary(timeline: Report) -> str:
    """One line while the load ran and one per stretch: the rate published, the slowest
    consumer's and the busiest processes."""
    stretches = [(f"{p.from_s:.0f}-{p.to_s:.0f}s", p) for p in timeline.parts]
    if loaded := timeline.during_load:
        stretches.insert(0, ("while loading", loaded))
    return "\n".join(f"{label}: {_line(p)}" for label, p in stretches)


def _line(p: Stretch) -> str:
    slowest = min(p.applied_per_s.values(), default=0)
    busy = sorted(p.cores.items(), key=lambda kv: -kv[1])[:6]
    return f"published {p.published_per_s}/s, slowest consumer {slowest}/s; cores " + ", ".join(
        f"{k} {v:.2f}" for k, v in busy
    )
