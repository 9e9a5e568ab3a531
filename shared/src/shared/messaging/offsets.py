"""Consumer offsets stored with the data: the ``consumer_offsets`` table holds, for each
partition a consumer has applied, the next offset to apply, written in the same transaction as
the effects (docs/adr/0057-offsets-stored-with-the-data.md).

A transaction that applies records first locks their partitions' rows (``lock``, inserting the
missing ones), drops the records below the stored offset (a redelivery after a rebalance or a
failed Kafka commit, or a consumer that lost the partition and does not know it yet), applies
the rest and stores the next offset (``store``). The row lock orders two consumers that both
think they own a partition: the second sees what the first stored. On assignment the consumer
seeks each partition to its stored offset (``ResumeFromStoredOffsets``); one with no row
starts from Kafka's committed offset.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition
from sqlalchemy import Table, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from shared.db import bulk

log = logging.getLogger(__name__)


async def lock(
    session: AsyncSession, table: Table, partitions: Iterable[TopicPartition]
) -> dict[TopicPartition, int]:
    """Lock the partitions' rows until the transaction ends (a missing row is inserted at 0:
    the partition was never applied here); the next offset stored for each."""
    wanted = sorted(set(partitions))
    found = await _read(session, table, wanted, for_update=True)
    missing = [tp for tp in wanted if tp not in found]
    if missing:
        rows = [{"topic": t, "kafka_partition": p, "next_offset": 0} for t, p in missing]
        await bulk.insert_new(session, table, rows)
        found |= await _read(session, table, missing, for_update=True)
    return found


async def store(
    session: AsyncSession, table: Table, next_offsets: Mapping[TopicPartition, int]
) -> None:
    """Store the next offset of each partition (rows locked by ``lock`` in this transaction)."""
    rows = [
        {"topic": tp.topic, "kafka_partition": tp.partition, "next_offset": n}
        for tp, n in next_offsets.items()
    ]
    await bulk.update_rows(session, table, rows, touch="updated_at")


async def stored(
    session: AsyncSession, table: Table, partitions: Iterable[TopicPartition]
) -> dict[TopicPartition, int]:
    """The next offset stored for each partition that has a row (no lock)."""
    return await _read(session, table, sorted(set(partitions)), for_update=False)


async def _read(
    session: AsyncSession, table: Table, partitions: list[TopicPartition], *, for_update: bool
) -> dict[TopicPartition, int]:
    if not partitions:
        return {}
    c = table.c
    stmt = (
        select(c.topic, c.kafka_partition, c.next_offset)
        .where(tuple_(c.topic, c.kafka_partition).in_([tuple(tp) for tp in partitions]))
        .order_by(c.topic, c.kafka_partition)
    )
    if for_update:
        stmt = stmt.with_for_update()
    rows = await session.execute(stmt)
    return {TopicPartition(t, p): int(n) for t, p, n in rows.all()}


class ResumeFromStoredOffsets(ConsumerRebalanceListener):  # type: ignore[misc]
    """Seeks each partition assigned to the offset stored with the data; a partition with no
    row starts where Kafka's committed offset says (a database from before stored offsets).

    The seek saves re-reading; it is not what keeps records from being applied twice (the
    transaction's ``lock`` is), so a database that cannot be read here only costs that."""

    def __init__(
        self,
        consumer: AIOKafkaConsumer,
        sessions: async_sessionmaker[AsyncSession],
        table: Table,
    ) -> None:
        self._consumer = consumer
        self._sessions = sessions
        self._table = table

    async def on_partitions_revoked(self, revoked: list[TopicPartition]) -> None:
        return None

    async def on_partitions_assigned(self, assigned: list[TopicPartition]) -> None:
        if not assigned:
            return
        # aiokafka may already fetch from the committed offset while this reads the database:
        # the partitions wait, paused, until they are sought to their stored offsets.
        self._consumer.pause(*assigned)
        offsets: dict[TopicPartition, int] = {}
        try:
            async with self._sessions() as session:
                offsets = await stored(session, self._table, assigned)
        except Exception as exc:
            log.warning(
                "cannot read the stored offsets; starting from Kafka's committed offsets",
                extra={"error": repr(exc)},
            )
        finally:
            still = self._consumer.assignment()  # a rebalance may have come meanwhile
            for tp, offset in offsets.items():
                if tp in still:
                    self._consumer.seek(tp, offset)
            self._consumer.resume(*(tp for tp in assigned if tp in still))
        log.info(
            "resumed from stored offsets",
            extra={"partitions": {str(tp): offset for tp, offset in offsets.items()}},
        )
