"""The consumer runner: apply events to the service's database, exactly once in effect.

For every message: decode the envelope and payload, then in ONE database transaction lock its
partition's stored offset (``shared.messaging.offsets``: a record below it was applied
already, by this consumer or by one that owned the partition before), record the event id in
the inbox (skipping it if already there), run the service's handler and store the partition's
next offset. Kafka offsets are committed after that transaction, for operators' lag tools; a
failed Kafka commit only means records come again and are dropped by the stored offset
(docs/adr/0057-offsets-stored-with-the-data.md). The records of one fetch (several partitions,
each in its order) are first applied together in one transaction; if that fails they are
applied one by one, so a single bad message never holds up the others.

Applied together, the records cost one inbox statement for the lot, and a ``Batched`` handler
gets each run of consecutive events it handles in one call (in partition order), so it can
read and write them with a few set-based statements instead of a few per event.

Failures are sorted in one place (``_attempt``):
- transient (database or broker down): retried with backoff for as long as it takes;
- poison (oversized, undecodable, unknown type, invalid payload): dead-lettered at once;
- any other handler error: retried ``max_attempts`` times, then dead-lettered.
A dead letter is stored in ``dead_letters`` and queued through the outbox to ``<topic>.dlq``
with headers naming its origin and the error, in one transaction that also stores the
partition's next offset; then the partition moves on.

The runner also says how it is doing: its lag (end offsets of its assigned partitions minus its
positions), the time of its last applied fetch and, through ``shared.progress``, whether it is
stalled (records wait and nothing has been applied for ``STALL_SECONDS``), which ``/readyz``
reports. A runner whose consumer fails outright is restarted with a new consumer by
``shared.runtime.run_worker``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Sequence
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import KafkaError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from shared import metrics
from shared.errors import PoisonMessage, is_transient
from shared.logs import correlation_id
from shared.messaging import offsets
from shared.messaging.decoding import Message, correlation_of
from shared.messaging.inbox import EventApplier
from shared.progress import Progress
from shared.settings import ServiceSettings

log = logging.getLogger(__name__)


class ConsumerStuck(Exception):
    """The consumer fetches nothing while its partitions hold records it has not applied."""


class ConsumerRunner:
    def __init__(
        self,
        *,
        consumer: AIOKafkaConsumer,
        sessions: async_sessionmaker[AsyncSession],
        applier: EventApplier[Any],
        service: str,
        max_attempts: int = 3,
        batch_size: int = 500,
        progress: Progress | None = None,
    ) -> None:
        self._consumer = consumer
        self._sessions = sessions
        self._applier = applier
        self._service = service
        self._max_attempts = max_attempts
        self._batch_size = batch_size
        self._stopping = asyncio.Event()
        self.progress = progress or Progress(
            service=service,
            role="worker",
            stall_seconds=ServiceSettings.model_fields["stall_seconds"].default,
        )
        self._lag_topics: set[str] = set()

    def stop(self) -> None:
        self._stopping.set()

    def subscribe(self, topics: Sequence[str]) -> None:
        """Subscribe the consumer (before it starts) so each partition it is assigned resumes
        from the offset stored with the data."""
        listener = offsets.ResumeFromStoredOffsets(
            self._consumer, self._sessions, self._applier.tables.consumer_offsets
        )
        self._consumer.subscribe(list(topics), listener=listener)

    async def run(self) -> None:
        while not self._stopping.is_set():
            batches = await self._consumer.getmany(timeout_ms=200, max_records=self._batch_size)
            fetched = {tp: [Message.of(r) for r in rs] for tp, rs in batches.items() if rs}
            if fetched:
                self.progress.work_waits()
                await self._process(fetched)
                metrics.CONSUMER_LAST_APPLIED.labels(self._service).set(time.time())
                self.progress.advanced(waiting=self._export_lag() > 0)
            elif self._export_lag() == 0:
                self.progress.advanced()  # caught up: nothing waits for this worker
            else:
                self.progress.work_waits()
                if self.progress.stalled:
                    # Polls come back empty while records wait: the consumer itself is stuck
                    # (seen in make faults after a broker SIGKILL: no error, no fetch, for
                    # minutes). run_worker replaces it with a new one that rejoins the group.
                    raise ConsumerStuck(
                        f"no records for {self.progress.idle_seconds:.0f}s while its lag is"
                        " above zero"
                    )

    def _export_lag(self) -> int:
        """Set the lag gauges (per topic, over the assigned partitions); the total."""
        by_topic = lag_of(self._consumer)
        for topic in self._lag_topics - by_topic.keys():
            metrics.CONSUMER_LAG.labels(self._service, topic).set(0)
        for topic, lag in by_topic.items():
            metrics.CONSUMER_LAG.labels(self._service, topic).set(lag)
        self._lag_topics = set(by_topic)
        return sum(by_topic.values())

    async def _process(self, fetched: dict[TopicPartition, list[Message]]) -> None:
        """Apply what one fetch returned (every partition's records, each partition in its
        order) in one transaction, else one by one; then commit every partition's offset to
        Kafka (the offsets stored with the data are what count)."""
        started = time.perf_counter()
        done = await self._apply_together(fetched)
        if done is None:
            done = {}
            for tp, records in fetched.items():
                for message in records:
                    next_offset = await self._apply_alone(message)
                    if next_offset is None:  # stopping: the record is read again
                        break
                    done[tp] = max(done.get(tp, 0), next_offset)
        try:
            await self._consumer.commit(done)
        except KafkaError as exc:
            # The group rebalanced under us: whoever owns the partition now seeks to the
            # offset stored with the data, and the stored offset drops anything read again.
            log.warning(
                "Kafka offset commit failed; the offsets stored with the data stand",
                extra={"partitions": [str(tp) for tp in fetched], "error": repr(exc)},
            )
        elapsed = time.perf_counter() - started
        for topic in {tp.topic for tp in fetched}:
            metrics.HANDLE_LATENCY.labels(self._service, topic).observe(elapsed)

    async def _apply_together(
        self, fetched: dict[TopicPartition, list[Message]]
    ) -> dict[TopicPartition, int] | None:
        """Each partition's next offset once applied; None when the records must go one by
        one (a single record, or the batch failed)."""
        if sum(len(records) for records in fetched.values()) == 1:
            return None
        try:
            async with self._sessions() as session, session.begin():
                done, fresh, repeated = await apply_fetch(session, self._applier, fetched)
        except Exception as exc:
            log.info("batch apply failed, applying one by one", extra={"error": repr(exc)})
            return None
        for topic, count in Counter(m.topic for m in fresh).items():
            metrics.CONSUMED.labels(self._service, topic, "applied").inc(count)
        self._count_repeats(repeated)
        return done

    def _count_repeats(self, repeats: Sequence[Message]) -> None:
        """Records below their partition's stored offset: read again, dropped."""
        for topic, count in Counter(m.topic for m in repeats).items():
            metrics.CONSUMED.labels(self._service, topic, "repeated").inc(count)
            log.info("records below the stored offset dropped", extra={"count": count})

    async def _apply_alone(self, message: Message) -> int | None:
        """Apply (or dead-letter) one record; its partition's next offset (None: stopped
        before the record was done with)."""
        # The event's correlation id stays bound for every line about it, its failures and its
        # dead-lettering included (the applier binds it only while the handler runs).
        token = correlation_id.set(correlation_of(message))
        try:
            return await self._apply_with_retries(message)
        finally:
            correlation_id.reset(token)

    async def _apply_with_retries(self, message: Message) -> int | None:
        tp = message.tp
        table = self._applier.tables.consumer_offsets
        attempts = 0
        while True:
            attempts += 1
            try:
                async with self._sessions() as session, session.begin():
                    stored = (await offsets.lock(session, table, [tp]))[tp]
                    if message.offset < stored:
                        self._count_repeats([message])
                        return stored
                    await self._applier.apply(session, message)
                    await offsets.store(session, table, {tp: message.offset + 1})
                metrics.CONSUMED.labels(self._service, message.topic, "applied").inc()
                return message.offset + 1
            except Exception as exc:
                if not await self._should_retry(message, exc, attempts):
                    return None if self._stopping.is_set() else message.offset + 1

    async def _should_retry(self, message: Message, exc: Exception, attempts: int) -> bool:
        self.progress.failed(exc)
        if is_transient(exc) and not isinstance(exc, PoisonMessage):
            log.warning("transient failure; will retry", extra={"error": repr(exc)})
            await asyncio.sleep(min(0.2 * 2 ** min(attempts, 5), 5.0))
            return not self._stopping.is_set()
        if isinstance(exc, PoisonMessage) or attempts >= self._max_attempts:
            await self._dead_letter(message, exc, attempts)
            return False
        log.warning("handler failed; retrying", extra={"attempt": attempts, "error": repr(exc)})
        await asyncio.sleep(0.05 * attempts)
        return True

    async def _dead_letter(self, message: Message, exc: BaseException, attempts: int) -> None:
        log.error(
            "dead-lettering message",
            extra={
                "topic": message.topic,
                "partition": message.partition,
                "offset": message.offset,
                "error": f"{type(exc).__name__}: {exc}"[:500],
            },
        )
        tp = message.tp
        table = self._applier.tables.consumer_offsets
        while True:
            try:
                async with self._sessions() as session, session.begin():
                    if message.offset < (await offsets.lock(session, table, [tp]))[tp]:
                        return  # another consumer took the partition and went past it
                    await self._applier.dead_letter(session, message, exc, attempts, self._service)
                    await offsets.store(session, table, {tp: message.offset + 1})
                break
            except Exception as db_exc:  # the database itself is down: keep the message
                log.warning("cannot store dead letter yet", extra={"error": repr(db_exc)})
                self.progress.failed(db_exc)
                await asyncio.sleep(1.0)
        metrics.DEAD_LETTERED.labels(self._service, message.topic).inc()
        metrics.CONSUMED.labels(self._service, message.topic, "dead_lettered").inc()


async def apply_fetch(
    session: AsyncSession, applier: EventApplier[Any], fetched: dict[TopicPartition, list[Message]]
) -> tuple[dict[TopicPartition, int], list[Message], list[Message]]:
    """In the caller's transaction: lock the partitions' stored offsets, apply the records at
    or past them (each partition's in its order) and store the next offsets. Each partition's
    next offset, the records applied, and those below the stored offsets (read again)."""
    table = applier.tables.consumer_offsets
    stored = await offsets.lock(session, table, fetched)
    fresh: list[Message] = []
    repeated: list[Message] = []
    for tp, records in fetched.items():
        for message in records:
            (fresh if message.offset >= stored[tp] else repeated).append(message)
    if fresh:
        await applier.apply_many(session, fresh)
    ahead = {tp: ms[-1].offset + 1 for tp, ms in fetched.items() if ms[-1].offset >= stored[tp]}
    await offsets.store(session, table, ahead)
    return stored | ahead, fresh, repeated


def lag_of(consumer: AIOKafkaConsumer) -> dict[str, int]:
    """Per topic, the records of the consumer's assigned partitions after its position (what
    it has not yet been handed, so after a commit what it has not applied), for the partitions
    whose end offset it knows (from its fetches). The relays do not use transactions, so the
    end offset is the high watermark and every offset before it holds a record."""
    lag: dict[str, int] = {}
    try:
        assignment = consumer._subscription.subscription.assignment
        if assignment is None:
            return lag
        for tp in consumer.assignment():
            state = assignment.state_value(tp)
            end = consumer.last_stable_offset(tp)
            if end is None:
                end = consumer.highwater(tp)
            if end is None or state is None or not state.has_valid_position:
                continue
            lag[tp.topic] = lag.get(tp.topic, 0) + max(0, end - state.position)
    except (AttributeError, AssertionError, KafkaError):  # between assignments
        return {}
    return lag
