"""Consumer lag of the platform's consumer groups: committed offsets against end offsets."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Protocol

from aiokafka import AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PartitionLag:
    group: str
    topic: str
    partition: int
    committed: int | None
    end: int

    @property
    def lag(self) -> int:
        return self.end - (self.committed or 0)


class LagPort(Protocol):
    async def lag(self, groups: list[str]) -> dict[str, list[PartitionLag]]: ...


class KafkaLag:
    def __init__(self, bootstrap: str) -> None:
        self._bootstrap = bootstrap

    async def lag(self, groups: list[str]) -> dict[str, list[PartitionLag]]:
        admin = AIOKafkaAdminClient(bootstrap_servers=self._bootstrap, client_id="analytics-lag")
        consumer = AIOKafkaConsumer(bootstrap_servers=self._bootstrap, client_id="analytics-lag")
        await admin.start()
        await consumer.start()
        try:
            committed = {g: await admin.list_consumer_group_offsets(g) for g in groups}
            partitions = {tp for offsets in committed.values() for tp in offsets}
            ends = await consumer.end_offsets(list(partitions)) if partitions else {}
            return {
                group: sorted(
                    (
                        PartitionLag(group, tp.topic, tp.partition, meta.offset, ends.get(tp, 0))
                        for tp, meta in offsets.items()
                        if not tp.topic.endswith(".dlq")
                    ),
                    key=lambda p: (p.topic, p.partition),
                )
                for group, offsets in committed.items()
            }
        finally:
            await consumer.stop()
            await admin.close()
