"""The consumer runner: apply events to the service's database, exactly once in effect.

For every message: decode the envelope and payload, then in ONE database transaction record
the event id in the inbox (skipping it if already there) and run the service's handler; commit
Kafka offsets only after that transaction commits. The records of one fetch (several
partitions, each in its order) are first applied together in one transaction; if that fails
they are applied one by one, so a single bad message never holds up the others.

Applied together, the records cost one inbox statement for the lot, and a ``Batched`` handler
gets each run of consecutive events it handles in one call (in partition order), so it can
read and write them with a few set-based statements instead of a few per event.

Failures are sorted in one place (``_attempt``):
- transient (database or broker down): retried with backoff for as long as it takes;
- poison (oversized, undecodable, unknown type, invalid payload): dead-lettered at once;
- any other handler error: retried ``max_attempts`` times, then dead-lettered.
A dead letter is stored in ``dead_letters`` and queued through the outbox to ``<topic>.dlq``
with headers naming its origin and the error, in one transaction; then the partition moves on.

The runner also says how it is doing: its lag (end offsets of its assigned partitions minus its
positions), the time of its last applied fetch and, through ``shared.progress``, whether it is
stalled (records wait and nothing has been applied for ``STALL_SECONDS``), which ``/readyz``
reports. A runner whose consumer fails outright is restarted with a new consumer by
``shared.runtime.run_worker``.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any, Literal, Union

import orjson
from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.errors import KafkaError
from pydantic import Discriminator, Field, TypeAdapter, ValidationError, create_model
from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from shared import metrics
from shared.db import bulk
from shared.db.plumbing import PlumbingTables
from shared.envelope import MAX_EVENT_BYTES, CloudEvent
from shared.errors import PoisonMessage, is_transient
from shared.events.registry import PAYLOADS, UnknownEventType, parse_payload
from shared.inputs import scrub
from shared.logs import correlation_id
from shared.outbox import add_raw
from shared.progress import Progress
from shared.settings import ServiceSettings
from shared.topics import dead_letter_topic

log = logging.getLogger(__name__)

Handler = Callable[[AsyncSession, CloudEvent, Any], Awaitable[None]]
Events = Sequence[tuple[CloudEvent, Any]]


@dataclass(frozen=True)
class Batched:
    """A handler that applies a run of consecutive events at once, in their order.

    Registered like any handler (and callable like one, for a single event: DLQ replay and the
    one-by-one fallback); the runner hands it every run of consecutive events of a partition
    whose types map to this same instance.
    """

    apply: Callable[[AsyncSession, Events], Awaitable[None]]

    async def __call__(self, session: AsyncSession, event: CloudEvent, payload: Any) -> None:
        await self.apply(session, [(event, payload)])


@dataclass(frozen=True)
class Message:
    """What the runner needs of a Kafka record (also built from a stored dead letter)."""

    topic: str
    partition: int
    offset: int
    key: str | None
    value: bytes

    @classmethod
    def of(cls, record: ConsumerRecord[bytes, bytes]) -> Message:
        key = record.key.decode(errors="replace") if record.key is not None else None
        return cls(record.topic, record.partition, record.offset, key, record.value or b"")


def decode(message: Message, handled: Collection[str] | None = None) -> tuple[CloudEvent, Any]:
    """The envelope and its typed payload; ``PoisonMessage`` when either is broken.

    With ``handled`` (the types this service applies), a known type it does not handle comes
    back with no payload, unvalidated: another service's event is not this one's to parse or
    to dead-letter (analytics and defects read every fulfillment event and apply a few). An
    unknown type is still poison: nothing in this build can read it.

    The handled types are read in one pass from JSON, envelope and payload together
    (``_reader``); the event's ``data`` is then the payload itself.
    """
    if len(message.value) > MAX_EVENT_BYTES:
        raise PoisonMessage(
            f"payload of {len(message.value)} bytes is over the {MAX_EVENT_BYTES}-byte limit"
        )
    parsed = frozenset(PAYLOADS if handled is None else handled)
    try:
        event = _reader(parsed).validate_json(message.value)
        if isinstance(event, _Typed):
            if not event.dataschema.endswith(":1"):
                raise UnknownEventType(f"{event.type} schema {event.dataschema}")
            return event, event.data
        if event.type not in parsed and event.type in PAYLOADS:
            return event, None
        # An unknown type, or a handled one whose payload did not validate: say which.
        return event, parse_payload(event)
    except (ValueError, ValidationError, UnknownEventType) as exc:
        raise PoisonMessage(f"{type(exc).__name__}: {exc}"[:2000]) from exc


class _Typed(CloudEvent):
    """An envelope read together with its payload: ``data`` is the payload's model."""


@functools.cache
def _reader(types: frozenset[str]) -> TypeAdapter[CloudEvent]:
    """Reads an event from JSON: as an envelope with its typed payload when its type is one of
    ``types`` (one pass in pydantic-core, chosen by the ``type`` field: about a third less than
    parsing the JSON, then the envelope, then the payload), else as a plain envelope."""
    typed: list[Any] = [
        create_model(
            f"Typed_{name}",
            __base__=_Typed,
            type=(_literal(name), ...),
            data=(PAYLOADS[name], ...),
        )
        for name in sorted(types & PAYLOADS.keys())
    ]
    if not typed:
        return TypeAdapter(CloudEvent)
    one_of = typed[0] if len(typed) == 1 else Annotated[Union[tuple(typed)], Discriminator("type")]  # noqa: UP007
    either: Any = Annotated[Union[one_of, CloudEvent], Field(union_mode="left_to_right")]  # noqa: UP007
    return TypeAdapter(either)


def _literal(value: str) -> Any:
    return Literal[value]


class EventApplier:
    """Applies one decoded message inside a transaction; shared by the runner and DLQ replay."""

    def __init__(self, *, tables: PlumbingTables, handlers: dict[str, Handler]) -> None:
        self.tables = tables
        self.handlers = handlers

    async def apply(self, session: AsyncSession, message: Message) -> bool:
        """Apply in the caller's transaction; False when already applied or not handled here."""
        event, payload = decode(message, self.handlers)
        handler = self.handlers.get(event.type)
        if handler is None:
            return False
        if not await self._claim(session, message, event):
            return False
        token = correlation_id.set(event.correlationid or str(event.id))
        try:
            await handler(session, event, payload)
        finally:
            correlation_id.reset(token)
        return True

    async def apply_many(self, session: AsyncSession, messages: Sequence[Message]) -> int:
        """Apply a partition's records in the caller's transaction; how many were applied.

        Any poison record raises (before anything is written), so the caller can fall back to
        one by one and dead-letter just that record.
        """
        fresh: dict[Any, tuple[Message, CloudEvent, Any]] = {}
        for message in messages:
            event, payload = decode(message, self.handlers)
            if event.type in self.handlers:
                fresh.setdefault(event.id, (message, event, payload))  # a repeat in the batch
        if not fresh:
            return 0
        claimed = await self._claim_all(session, list(fresh.values()))
        todo = [(e, p) for (_, e, p) in fresh.values() if e.id in claimed]
        for handler, run in _runs(todo, self.handlers):
            token = correlation_id.set(run[0][0].correlationid or str(run[0][0].id))
            try:
                if isinstance(handler, Batched):
                    await handler.apply(session, run)
                else:
                    for event, payload in run:
                        await handler(session, event, payload)
            finally:
                correlation_id.reset(token)
        return len(todo)

    async def _claim(self, session: AsyncSession, message: Message, event: CloudEvent) -> bool:
        return bool(await self._claim_all(session, [(message, event, None)]))

    async def _claim_all(
        self, session: AsyncSession, records: Sequence[tuple[Message, CloudEvent, Any]]
    ) -> set[Any]:
        """Record the events in the inbox; the ids that were not there before."""
        rows = [
            {
                "event_id": event.id,
                "topic": message.topic,
                "event_type": event.type,
                "subject": event.subject,
                "aggregate_version": event.aggregateversion,
                "kafka_partition": message.partition,
                "kafka_offset": message.offset,
            }
            for message, event, _ in records
        ]
        return await bulk.insert_new(session, self.tables.inbox, rows)

    async def dead_letter(
        self,
        session: AsyncSession,
        message: Message,
        exc: BaseException,
        attempts: int,
        service: str,
    ) -> None:
        """Store the message as a dead letter and queue it for ``<topic>.dlq``, once.

        A poison message has no event id the inbox could remember, so a redelivery (after a
        rebalance, before the offset commit) is recognised by its topic, partition and offset.
        """
        if await self._already_dead(session, message):
            return
        event_type, subject = _peek(message)
        await session.execute(
            insert(self.tables.dead_letters).values(
                topic=message.topic,
                kafka_partition=message.partition,
                kafka_offset=message.offset,
                message_key=_label(message.key),
                payload=message.value,
                event_type=event_type,
                subject=_label(subject),
                error_type=type(exc).__name__,
                error_message=_reason(exc),
                attempts=attempts,
            )
        )
        await self.publish_dead_letter(session, message, exc, attempts, service)

    async def _already_dead(self, session: AsyncSession, message: Message) -> bool:
        d = self.tables.dead_letters.c
        stmt = select(d.id).where(
            d.topic == message.topic,
            d.kafka_partition == message.partition,
            d.kafka_offset == message.offset,
        )
        return (await session.execute(stmt.limit(1))).first() is not None

    async def publish_dead_letter(
        self,
        session: AsyncSession,
        message: Message,
        exc: BaseException,
        attempts: int,
        service: str,
    ) -> None:
        event_type, _ = _peek(message)
        headers = {
            "x-dlq-origin-topic": message.topic,
            "x-dlq-origin-partition": str(message.partition),
            "x-dlq-origin-offset": str(message.offset),
            "x-dlq-service": service,
            "x-dlq-error-type": type(exc).__name__,
            "x-dlq-error-message": _reason(exc)[:500],
            "x-dlq-attempts": str(attempts),
            "x-dlq-failed-at": datetime.now(UTC).isoformat(),
        }
        await add_raw(
            session,
            self.tables.outbox,
            topic=dead_letter_topic(message.topic),
            key=message.key or "",
            payload=message.value,
            event_type=event_type or "unknown",
            headers=headers,
        )


def _runs(
    events: Sequence[tuple[CloudEvent, Any]], handlers: dict[str, Handler]
) -> list[tuple[Handler, list[tuple[CloudEvent, Any]]]]:
    """Consecutive events that go to the same handler, in order."""
    runs: list[tuple[Handler, list[tuple[CloudEvent, Any]]]] = []
    for event, payload in events:
        handler = handlers[event.type]
        if runs and runs[-1][0] is handler and isinstance(handler, Batched):
            runs[-1][1].append((event, payload))
        else:
            runs.append((handler, [(event, payload)]))
    return runs


def correlation_of(message: Message) -> str:
    """The id that correlates a message's log lines: its envelope's ``correlationid``, else its
    event id; a message whose envelope cannot be read is named by where it is on Kafka."""
    try:
        envelope = orjson.loads(message.value)
    except orjson.JSONDecodeError:
        envelope = None
    if isinstance(envelope, dict):
        for name in ("correlationid", "id"):
            if isinstance(envelope.get(name), str) and envelope[name]:
                return str(envelope[name])[:128]
    return f"kafka:{message.topic}/{message.partition}/{message.offset}"


def _reason(exc: BaseException) -> str:
    return scrub(f"{type(exc).__name__}: {exc}", 2000)


def _label(text: str | None) -> str | None:
    """A key or subject from outside, fit for a text column (no NUL, no bidi controls)."""
    return None if text is None else scrub(text, 1000)


def _peek(message: Message) -> tuple[str | None, str | None]:
    try:
        event = CloudEvent.from_bytes(message.value)
        return event.type, event.subject
    except (ValueError, ValidationError):
        return None, message.key


class ConsumerStuck(Exception):
    """The consumer fetches nothing while its partitions hold records it has not applied."""


class ConsumerRunner:
    def __init__(
        self,
        *,
        consumer: AIOKafkaConsumer,
        sessions: async_sessionmaker[AsyncSession],
        applier: EventApplier,
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

    async def run(self) -> None:
        while not self._stopping.is_set():
            batches = await self._consumer.getmany(timeout_ms=200, max_records=self._batch_size)
            fetched = {tp: [Message.of(r) for r in rs] for tp, rs in batches.items() if rs}
            if fetched:
                self.progress.work_waits()
                if await self._process(fetched):
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

    async def _process(self, fetched: dict[TopicPartition, list[Message]]) -> bool:
        """Apply what one fetch returned (every partition's records, each partition in its
        order) in one transaction, else one by one; then commit every partition's offset.
        False when the commit failed (the records come again)."""
        started = time.perf_counter()
        messages = [m for records in fetched.values() for m in records]
        if not await self._apply_together(messages):
            for message in messages:
                await self._apply_alone(message)
        try:
            await self._consumer.commit({tp: ms[-1].offset + 1 for tp, ms in fetched.items()})
        except KafkaError as exc:
            # The group rebalanced under us: whoever owns the partition now gets these records
            # again and the inbox (and the dead-letter check) makes the repeat harmless.
            log.warning(
                "offset commit failed; records will be redelivered",
                extra={"partitions": [str(tp) for tp in fetched], "error": repr(exc)},
            )
            self.progress.failed(exc)
            return False
        elapsed = time.perf_counter() - started
        for topic in {tp.topic for tp in fetched}:
            metrics.HANDLE_LATENCY.labels(self._service, topic).observe(elapsed)
        return True

    async def _apply_together(self, messages: Sequence[Message]) -> bool:
        if len(messages) == 1:
            return False
        try:
            async with self._sessions() as session, session.begin():
                await self._applier.apply_many(session, messages)
        except Exception as exc:
            log.info("batch apply failed, applying one by one", extra={"error": repr(exc)})
            return False
        for topic, count in Counter(m.topic for m in messages).items():
            metrics.CONSUMED.labels(self._service, topic, "applied").inc(count)
        return True

    async def _apply_alone(self, message: Message) -> None:
        # The event's correlation id stays bound for every line about it, its failures and its
        # dead-lettering included (the applier binds it only while the handler runs).
        token = correlation_id.set(correlation_of(message))
        try:
            await self._apply_with_retries(message)
        finally:
            correlation_id.reset(token)

    async def _apply_with_retries(self, message: Message) -> None:
        attempts = 0
        while True:
            attempts += 1
            try:
                async with self._sessions() as session, session.begin():
                    await self._applier.apply(session, message)
                metrics.CONSUMED.labels(self._service, message.topic, "applied").inc()
                return
            except Exception as exc:
                if not await self._should_retry(message, exc, attempts):
                    return

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
        while True:
            try:
                async with self._sessions() as session, session.begin():
                    await self._applier.dead_letter(session, message, exc, attempts, self._service)
                break
            except Exception as db_exc:  # the database itself is down: keep the message
                log.warning("cannot store dead letter yet", extra={"error": repr(db_exc)})
                self.progress.failed(db_exc)
                await asyncio.sleep(1.0)
        metrics.DEAD_LETTERED.labels(self._service, message.topic).inc()
        metrics.CONSUMED.labels(self._service, message.topic, "dead_lettered").inc()


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
