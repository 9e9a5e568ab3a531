"""Consumer lag of the platform's consumer groups: committed offsets against end offsets."""

from __future__ import annotations

import logging

from aiokafka import AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient

from analytics.service_layer.ports import PartitionLag

log = logging.getLogger(__name__)


class KafkaLag:
    """Implements ``service_layer.ports.LagPort``."""

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
