"""The inbox: ``EventApplier`` applies a decoded message in the caller's transaction, once per
event id (the ``inbox`` table remembers it), through the service's ``Handler`` (or a ``Batched``
one for a run of events); it also stores and queues dead letters.

Event types the service declares idempotent by version (``ServiceSpec.by_version``: a repeat,
an equal version, changes nothing) take no inbox row: a record read again is dropped by its
stored offset, and the same event published twice at two offsets is stale by its version
(docs/adr/0057-offsets-stored-with-the-data.md). While a handler runs, ``read_from`` tells
where each of its events was read from.

A handler gets the service's unit of work joined to that transaction
(``shared.unit_of_work.SqlUnitOfWork.joining``), never a session; the events it publishes are
written to the outbox when it returns, and the runner commits them with the inbox row."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from shared.db import bulk
from shared.inputs import scrub
from shared.logs import correlation_id
from shared.messaging.decoding import Message, decode, peek
from shared.messaging.envelope import CloudEvent
from shared.messaging.outbox import add_raw
from shared.messaging.tables import PlumbingTables
from shared.topics import dead_letter_topic
from shared.unit_of_work import UnitOfWork

U = TypeVar("U", bound=UnitOfWork)

Handler = Callable[[U, CloudEvent, Any], Awaitable[None]]
Events = Sequence[tuple[CloudEvent, Any]]


@dataclass(frozen=True)
class Position:
    """Where an event was read from: its record's topic, partition and offset."""

    topic: str
    partition: int
    offset: int


_positions: ContextVar[Mapping[Any, Position] | None] = ContextVar("positions", default=None)


def read_from(event: CloudEvent) -> Position | None:
    """Where ``event`` was read from, while the applier runs its handler (None elsewhere)."""
    positions = _positions.get()
    return positions.get(event.id) if positions else None


@contextmanager
def _reading(records: Sequence[tuple[Message, CloudEvent, Any]]) -> Iterator[None]:
    positions = {e.id: Position(m.topic, m.partition, m.offset) for m, e, _ in records}
    token = _positions.set(positions)
    try:
        yield
    finally:
        _positions.reset(token)


@dataclass(frozen=True)
class Batched(Generic[U]):
    """A handler that applies a run of consecutive events at once, in their order.

    Registered like any handler (and callable like one, for a single event: DLQ replay and the
    one-by-one fallback); the runner hands it every run of consecutive events of a partition
    whose types map to this same instance.
    """

    apply: Callable[[U, Events], Awaitable[None]]

    async def __call__(self, uow: U, event: CloudEvent, payload: Any) -> None:
        await self.apply(uow, [(event, payload)])


class EventApplier(Generic[U]):
    """Applies one decoded message inside a transaction; shared by the runner and DLQ replay."""

    def __init__(
        self,
        *,
        tables: PlumbingTables,
        handlers: dict[str, Handler[U]],
        unit_of_work: Callable[[AsyncSession], U],
        by_version: Collection[str] = (),
    ) -> None:
        self.tables = tables
        self.handlers = handlers
        self.unit_of_work = unit_of_work
        # Types whose handlers change nothing on a repeat (an equal version): no inbox row.
        self.by_version = frozenset(by_version)

    async def apply(self, session: AsyncSession, message: Message) -> bool:
        """Apply in the caller's transaction; False when already applied or not handled here."""
        event, payload = decode(message, self.handlers)
        handler = self.handlers.get(event.type)
        if handler is None:
            return False
        if not await self._claim(session, message, event):
            return False
        uow = self.unit_of_work(session)
        token = correlation_id.set(event.correlationid or str(event.id))
        try:
            with _reading([(message, event, payload)]):
                await handler(uow, event, payload)
        finally:
            correlation_id.reset(token)
        await uow.commit()
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
        records = [r for r in fresh.values() if r[1].type in self.by_version or r[1].id in claimed]
        todo = [(e, p) for (_, e, p) in records]
        uow = self.unit_of_work(session)
        with _reading(records):
            for handler, run in _runs(todo, self.handlers):
                token = correlation_id.set(run[0][0].correlationid or str(run[0][0].id))
                try:
                    if isinstance(handler, Batched):
                        await handler.apply(uow, run)
                    else:
                        for event, payload in run:
                            await handler(uow, event, payload)
                finally:
                    correlation_id.reset(token)
        await uow.commit()
        return len(todo)

    async def _claim(self, session: AsyncSession, message: Message, event: CloudEvent) -> bool:
        if event.type in self.by_version:
            return True
        return bool(await self._claim_all(session, [(message, event, None)]))

    async def _claim_all(
        self, session: AsyncSession, records: Sequence[tuple[Message, CloudEvent, Any]]
    ) -> set[Any]:
        """Record the events in the inbox; the ids that were not there before (events of the
        types idempotent by version are not recorded)."""
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
            if event.type not in self.by_version
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
        event_type, subject = peek(message)
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
        event_type, _ = peek(message)
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
    events: Sequence[tuple[CloudEvent, Any]], handlers: dict[str, Handler[U]]
) -> list[tuple[Handler[U], list[tuple[CloudEvent, Any]]]]:
    """Consecutive events that go to the same handler, in order."""
    runs: list[tuple[Handler[U], list[tuple[CloudEvent, Any]]]] = []
    for event, payload in events:
        handler = handlers[event.type]
        if runs and runs[-1][0] is handler and isinstance(handler, Batched):
            runs[-1][1].append((event, payload))
        else:
            runs.append((handler, [(event, payload)]))
    return runs


def _reason(exc: BaseException) -> str:
    return scrub(f"{type(exc).__name__}: {exc}", 2000)


def _label(text: str | None) -> str | None:
    """A key or subject from outside, fit for a text column (no NUL, no bidi controls)."""
    return None if text is None else scrub(text, 1000)
