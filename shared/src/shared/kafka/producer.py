"""The producer a relay publishes with, replaced when it can no longer deliver.

aiokafka's idempotent producer numbers each partition's batches (sequence numbers) when it
drains them for sending, and the broker appends a batch only if its number follows the last one
it appended. A batch that fails after it was numbered without the broker appending it leaves a
gap that the same producer never closes: every later batch to that partition is refused with
``OutOfOrderSequenceNumber``, forever. aiokafka fails numbered batches in several ways: a batch
that waited longer than ``request_timeout_ms`` while its partition had no known leader (a broker
restarting reports none for a moment) is failed with ``LeaderNotAvailableError`` after it was
numbered; a request that times out fails with ``KafkaTimeoutError``; the broker may refuse one
(``UnknownProducerId``, ``InvalidProducerEpoch``/``ProducerFenced`` when its producer state is
gone or another producer took the id). Kept, such a producer fails every later round with
``OutOfOrderSequenceNumber`` until the process is restarted.

So a relay round that fails on Kafka's side (a send, a delivery or the wait for acks) discards
its producer, closing it within a bound, and the next round starts a new one: a new producer id,
sequence numbers from zero. The round's rows were never marked sent, so the next round claims
them again in the outbox's order and publishes them with the new producer: nothing is lost, and
per partition (so per key) they follow whatever the old producer delivered, in order (a failed
batch stops everything after it on its partition once the broker holds a batch of that producer
there, which the relay's first wave sees to: docs/adr/0026-first-row-of-each-key-first.md). What
was delivered before the failure is delivered again and the consumers' inboxes drop the repeats.
Why: docs/adr/0025-relay-replaces-its-producer.md.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from aiokafka.errors import (
    IllegalStateError,
    InvalidProducerEpoch,
    InvalidProducerIdMapping,
    KafkaError,
    OutOfOrderSequenceNumber,
    ProducerClosed,
    ProducerFenced,
    UnknownProducerId,
)

from shared import metrics

log = logging.getLogger(__name__)

# The errors after which the same producer can never deliver again, whatever the broker does
# next (the narrow list; ``ProducerSlot`` replaces its producer after any Kafka failure, since
# any failed batch may leave a gap in its partition's sequence numbers).
UNRECOVERABLE: tuple[type[BaseException], ...] = (
    OutOfOrderSequenceNumber,
    UnknownProducerId,
    InvalidProducerEpoch,
    InvalidProducerIdMapping,
    ProducerFenced,
    ProducerClosed,
    IllegalStateError,
)


def is_unrecoverable(exc: BaseException) -> bool:
    return isinstance(exc, UNRECOVERABLE)


def from_kafka(exc: BaseException) -> bool:
    """A failure of the producer's side of a round: a Kafka error, or no acks in time."""
    return isinstance(exc, KafkaError | TimeoutError)


class ProducerSlot:
    """Holds one started producer, made by ``make`` when first needed and after ``discard``.

    ``make`` returns a new, not yet started producer (``shared.kafka.client.make_producer``).
    A slot given a started ``producer`` and no ``make`` only holds it: it cannot replace it
    (tests that bring their own producer).
    """

    def __init__(
        self,
        make: Callable[[], Any] | None = None,
        *,
        producer: Any = None,
        service: str = "orderflow",
        close_timeout: float = 10.0,
    ) -> None:
        if make is None and producer is None:
            raise ValueError("a ProducerSlot needs a factory or a producer")
        self._make = make
        self._producer = producer
        self._service = service
        self._close_timeout = close_timeout
        self.replaced = 0

    @property
    def can_replace(self) -> bool:
        return self._make is not None

    async def get(self) -> Any:
        """The current producer, started (a new one when the last was discarded); raises when
        Kafka cannot be reached (the caller retries)."""
        if self._producer is not None:
            if not _sender_dead(self._producer):
                return self._producer
            await self.discard(self._producer, KafkaError("the producer's sender task ended"))
        if self._make is None:
            raise KafkaError("the producer was discarded and this slot cannot make another")
        producer = self._make()
        try:
            await producer.start()
        except BaseException:
            await _close(producer, self._close_timeout)
            raise
        self._producer = producer
        return producer

    async def discard(self, producer: Any, reason: BaseException) -> None:
        """Close ``producer`` (if it is still the current one) so the next ``get`` makes a new
        one. A slot that cannot make producers keeps it."""
        if producer is not self._producer or self._make is None:
            return
        self._producer = None
        self.replaced += 1
        metrics.CLIENTS_REPLACED.labels(self._service, "producer").inc()
        log.warning(
            "discarding the Kafka producer; the next round starts a new one",
            extra={"error": f"{type(reason).__name__}: {reason}"[:500]},
        )
        await _close(producer, self._close_timeout)

    async def close(self) -> None:
        producer, self._producer = self._producer, None
        if producer is not None and self._make is not None:
            await _close(producer, self._close_timeout)


def _sender_dead(producer: Any) -> bool:
    """aiokafka's background sender ended (it failed): nothing sent from now on is delivered."""
    sender = getattr(producer, "_sender", None)
    task = getattr(sender, "sender_task", None)
    return task is not None and task.done()


async def _close(producer: Any, timeout: float) -> None:
    """``stop()`` within ``timeout``. ``stop`` first waits for pending batches, which a broken
    producer may never deliver: past the timeout its sender task is cancelled, which lets
    ``stop`` close the connections, and whatever it still held is dropped (the outbox has it)."""
    stopping = asyncio.ensure_future(producer.stop())
    done, _ = await asyncio.wait({stopping}, timeout=timeout)
    if not done:
        sender = getattr(producer, "_sender", None)
        task = getattr(sender, "sender_task", None)
        if task is not None:
            task.cancel()
        done, _ = await asyncio.wait({stopping}, timeout=timeout)
    if not done:
        stopping.cancel()
        log.warning("the discarded Kafka producer did not close in time")
    stopping.add_done_callback(_quietly)


def _quietly(task: asyncio.Future[Any]) -> None:
    if not task.cancelled() and task.exception() is not None:
        error = repr(task.exception())
        log.info("closing the discarded Kafka producer failed", extra={"error": error})
