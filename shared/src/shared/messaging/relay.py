"""The outbox relay: publishes unsent outbox rows in order and marks them sent.

Rows are claimed with ``FOR UPDATE SKIP LOCKED`` so several relays can run side by side. A
relay that dies after Kafka has the messages and before it marks them sent publishes them
again on restart: consumers drop the repeats by event id (the inbox). Nothing is lost.

For the same reason the sent mark need not survive a crash of PostgreSQL itself, and the
relay's transaction commits without waiting for its WAL to reach the disk
(``synchronous_commit = off``, for that transaction only): a mark lost with the last moments
before a crash means those rows go out again. Every other transaction still waits, and a later
one that does flushes the marks before it with its own WAL.

A round that fails on Kafka's side discards the relay's producer and the next round starts a
new one (``shared.kafka.producer``): an idempotent producer whose sequence numbers no longer
match the broker's never delivers again. The relay also says how it is doing: the age of the
oldest row it found unsent, the time of its last successful round and, through
``shared.progress``, whether it is stalled (work waits and no round has gone through for
``STALL_SECONDS``), which ``/readyz`` reports.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Protocol

import asyncpg
from sqlalchemy import Table, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from shared import metrics
from shared.db import bulk
from shared.kafka.producer import ProducerSlot, from_kafka
from shared.messaging.tables import CHANNEL
from shared.progress import Progress
from shared.settings import ServiceSettings

log = logging.getLogger(__name__)

# At 1,000 orders/s a relay round's commit took 4.2 ms (p50; p99 50) waiting for the disk,
# 1.5-1.9 ms without (bench, ingest's relay, rounds of 100 rows).
_NO_WAIT_FOR_DISK = text("SET LOCAL synchronous_commit = off")


class Publisher(Protocol):
    async def send(
        self, topic: str, value: bytes, key: bytes, headers: list[tuple[str, bytes]]
    ) -> Any: ...


class OutboxRelay:
    def __init__(
        self,
        *,
        sessions: async_sessionmaker[AsyncSession],
        outbox: Table,
        producer: Any,
        batch_size: int = ServiceSettings.model_fields["relay_batch_size"].default,
        idle_seconds: float = ServiceSettings.model_fields["relay_idle_seconds"].default,
        service: str = "orderflow",
        before_mark_sent: Callable[[], None] | None = None,
        wakeup: asyncio.Event | None = None,
        ack_timeout: float = ServiceSettings.model_fields["relay_ack_timeout_seconds"].default,
        progress: Progress | None = None,
    ) -> None:
        """``producer``: a ``ProducerSlot`` (replaced after a failure on Kafka's side), or a
        started producer, which is used as it is."""
        self._sessions = sessions
        self._outbox = outbox
        self.producers = (
            producer if isinstance(producer, ProducerSlot) else ProducerSlot(producer=producer)
        )
        self._batch_size = batch_size
        self._idle = idle_seconds
        self._service = service
        self._before_mark_sent = before_mark_sent  # fault-injection seam for tests
        self._stopping = asyncio.Event()
        self._wakeup = wakeup  # set when a transaction that wrote to the outbox commits
        self._ack_timeout = ack_timeout
        self.progress = progress or Progress(
            service=service,
            role="relay",
            stall_seconds=ServiceSettings.model_fields["stall_seconds"].default,
        )
        self._oldest_unsent: float | None = None  # unix time the oldest claimed row was made
        metrics.OUTBOX_OLDEST_AGE.labels(service).set_function(self.oldest_unsent_age)

    def oldest_unsent_age(self) -> float:
        """Seconds since the oldest row of the last claim was made; 0 when it found none."""
        if self._oldest_unsent is None:
            return 0.0
        return max(0.0, time.time() - self._oldest_unsent)

    def stop(self) -> None:
        self._stopping.set()

    async def run(self) -> None:
        backoff = 0.2
        idle = self._idle
        while not self._stopping.is_set():
            try:
                sent = await self.publish_batch()
                backoff = 0.2
            except Exception as exc:
                log.exception("outbox relay failed; retrying", extra={"backoff_s": backoff})
                metrics.RELAY_ERRORS.labels(self._service).inc()
                self.progress.failed(exc)
                await self._sleep(backoff)
                backoff = min(backoff * 2, 5.0)
                continue
            # Busy: go again at once. Idle: poll less and less often (up to 8 x idle_seconds),
            # so a quiet service does not spend its CPU asking an empty outbox, unless a
            # commit's notification wakes it first.
            idle = self._idle if sent else min(idle * 2, self._idle * 8)
            if sent == 0 and await self._idle_until_woken(idle):
                idle = self._idle

    async def publish_batch(self) -> int:
        """Publish one batch; returns how many rows went out."""
        async with self._sessions() as session, session.begin():
            rows = (await session.execute(self._claim())).all()
            self._claimed(rows)
            if not rows:
                self._succeeded(more=False)
                return 0
            await session.execute(_NO_WAIT_FOR_DISK)
            producer = await self.producers.get()
            try:
                landed = await self._send_all(producer, rows)
            except Exception as exc:
                if from_kafka(exc):
                    await self.producers.discard(producer, exc)
                raise
            if self._before_mark_sent is not None:
                self._before_mark_sent()
            await self._mark_sent(session, rows, landed)
        metrics.RELAY_PUBLISHED.labels(self._service).inc(len(rows))
        # A full claim: more rows may wait. A partial one took all there were.
        self._succeeded(more=len(rows) >= self._batch_size)
        return len(rows)

    def _claimed(self, rows: Sequence[Any]) -> None:
        if rows:
            self._oldest_unsent = min(row.created_at for row in rows).timestamp()
            self.progress.work_waits()
        else:
            self._oldest_unsent = None

    def _succeeded(self, *, more: bool) -> None:
        self.progress.advanced(waiting=more)
        metrics.RELAY_LAST_SUCCESS.labels(self._service).set(time.time())
        if not more:
            self._oldest_unsent = None

    def _claim(self) -> Any:
        o = self._outbox.c
        return (
            select(o.id, o.topic, o.message_key, o.payload, o.headers, o.created_at)
            .where(o.sent_at.is_(None))
            .order_by(o.id)
            .limit(self._batch_size)
            .with_for_update(skip_locked=True)
        )

    async def _send_all(self, producer: Any, rows: Sequence[Any]) -> list[Any]:
        """Publish ``rows``; where each landed. In two waves when a key repeats in the claim:
        first the first row of every key, then, once Kafka has all of those, the rest.

        The broker refuses a batch that does not follow the last one it appended from this
        producer to the partition, which keeps a partition's records in order after a failed
        batch, but only once it holds some batch of this producer there: a new producer's first
        batch to a partition may fail while the next one lands, putting a key's later version on
        Kafka before its earlier one. The first wave gives
        the broker that state on every partition the round writes to, with one row per key,
        so nothing of a key can overtake it; the second wave, if any, follows in order. With a
        key once in the claim (most rounds) there is one wave, one produce request.
        (docs/adr/0026-first-row-of-each-key-first.md)"""
        first: list[int] = []
        later: list[int] = []
        keys: set[str] = set()
        for i, row in enumerate(rows):
            (later if row.message_key in keys else first).append(i)
            keys.add(row.message_key)
        landed: list[Any] = [None] * len(rows)
        for wave in (first, later):
            if not wave:
                continue
            futures = [await self._send(producer, rows[i]) for i in wave]
            # Bounded: a producer whose sender died never resolves them (TimeoutError then
            # discards it).
            results = await asyncio.wait_for(asyncio.gather(*futures), self._ack_timeout)
            for i, metadata in zip(wave, results, strict=True):
                landed[i] = metadata
        return landed

    @staticmethod
    async def _send(producer: Any, row: Any) -> Any:
        return await producer.send(
            row.topic,
            value=row.payload,
            key=row.message_key.encode(),
            headers=[(k, str(v).encode()) for k, v in (row.headers or {}).items()],
        )

    async def _mark_sent(
        self, session: AsyncSession, rows: Sequence[Any], landed: list[Any]
    ) -> None:
        """One UPDATE for the batch: where each row landed (partition, offset)."""
        await bulk.update_rows(
            session,
            self._outbox,
            [
                {"id": row.id, "kafka_partition": m.partition, "kafka_offset": m.offset}
                for row, m in zip(rows, landed, strict=True)
            ],
            touch="sent_at",
        )

    async def _idle_until_woken(self, seconds: float) -> bool:
        """Sleep up to ``seconds``; True when a notification cut it short."""
        if self._wakeup is None:
            await self._sleep(seconds)
            return False
        self._wakeup.clear()
        await _first(self._wakeup.wait(), self._stopping.wait(), timeout=seconds)
        return self._wakeup.is_set()

    async def _sleep(self, seconds: float) -> None:
        await _first(self._stopping.wait(), timeout=seconds)


class OutboxListener:
    """LISTENs on ``shared.messaging.tables.CHANNEL`` over its own connection and sets ``wakeup`` on
    every notification. Reconnects after a failure; meanwhile the relay's polling goes on.
    ``database_url`` is the service's SQLAlchemy URL (``postgresql+asyncpg://...``)."""

    def __init__(self, database_url: str, wakeup: asyncio.Event) -> None:
        plain = make_url(database_url).set(drivername="postgresql")
        self._dsn = plain.render_as_string(hide_password=False)
        self.wakeup = wakeup

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                conn = await asyncpg.connect(self._dsn, timeout=5)
            except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
                log.info("outbox listener cannot connect yet", extra={"error": repr(exc)})
                await _first(stop.wait(), timeout=2.0)
                continue
            lost = asyncio.Event()
            conn.add_termination_listener(lambda _conn, lost=lost: lost.set())
            try:
                await conn.add_listener(CHANNEL, self._notified)
                await _first(stop.wait(), lost.wait())
            except (OSError, asyncpg.PostgresError) as exc:
                log.info("outbox listener lost its connection", extra={"error": repr(exc)})
            finally:
                await conn.close(timeout=2)

    def _notified(self, *_: Any) -> None:
        self.wakeup.set()


async def _first(*waits: Awaitable[Any], timeout: float | None = None) -> None:
    """Until the first of ``waits`` is done (or ``timeout``); the others are cancelled."""
    tasks = [asyncio.ensure_future(w) for w in waits]
    await asyncio.wait(tasks, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    for task in tasks:
        task.cancel()
