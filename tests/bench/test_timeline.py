"""bench.timeline: a run's progress and CPU window by window."""

from __future__ import annotations

import asyncio
import secrets

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.structs import OffsetAndMetadata

from bench import timeline
from bench.cluster import CONSUMERS, Cluster, Infra
from bench.timeline import Report, Sample, Stretch, Timeline


def _sample(t: float, published: int, applied: int, cpu: dict[str, float]) -> Sample:
    return Sample(
        t=t,
        published=published,
        applied={"fulfillment": applied, "defects": applied // 2},
        cpu=cpu,
    )


@pytest.mark.unit
def test_parts_give_each_stretch_its_rates_and_cores() -> None:
    samples = [
        _sample(0.0, 0, 0, {"ingest": 1.0, "postgres": 5.0}),
        _sample(2.0, 4000, 2000, {"ingest": 2.0, "postgres": 6.0}),
        _sample(4.0, 8000, 6000, {"ingest": 2.5, "postgres": 8.0}),
    ]
    parts = timeline.parts(samples, 2)
    assert parts == [
        Stretch(
            from_s=0.0,
            to_s=2.0,
            published_per_s=2000.0,
            applied_per_s={"fulfillment": 1000.0, "defects": 500.0},
            cores={"ingest": 0.5, "postgres": 0.5},
        ),
        Stretch(
            from_s=2.0,
            to_s=4.0,
            published_per_s=2000.0,
            applied_per_s={"fulfillment": 2000.0, "defects": 1000.0},
            cores={"ingest": 0.25, "postgres": 1.0},
        ),
    ]
    report = Report(every_s=2.0, missed_samples=0, during_load=None, parts=parts, samples=samples)
    assert (
        timeline.summary(report)
        .splitlines()[0]
        .startswith(
            "0-2s: published 2000.0/s, slowest consumer 500.0/s; cores ingest 0.50, postgres 0.50"
        )
    )


@pytest.mark.unit
def test_a_counter_that_went_backwards_counts_as_zero_and_one_sample_is_no_stretch() -> None:
    samples = [_sample(0.0, 0, 0, {"pg_autovacuum": 3.0}), _sample(1.0, 0, 0, {"pg_autovacuum": 0})]
    assert timeline.parts(samples, 1)[0].cores == {"pg_autovacuum": 0.0}
    assert timeline.parts(samples[:1]) == []


@pytest.mark.integration
async def test_the_timeline_follows_what_is_published_and_what_each_group_committed(
    test_infra: Infra,
) -> None:
    cluster = Cluster(test_infra, f"tl{secrets.token_hex(3)}")
    kafka_bootstrap = test_infra.kafka.bootstrap
    topic = cluster.topic("orders.v1")
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    await admin.start()
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap)
    await producer.start()
    try:
        await admin.create_topics([NewTopic(topic, num_partitions=2, replication_factor=1)])
        watch = Timeline(cluster, every_s=0.2)
        await watch.start()
        for _ in range(200):  # the first sample comes before anything is published
            if watch.samples:
                break
            await asyncio.sleep(0.05)
        for i in range(30):
            await producer.send(topic, b"x", partition=i % 2)
        await producer.flush()
        await asyncio.sleep(0.5)
        watch.load_ended()
        # Each group commits what it "applied": fulfillment all 30, the others partition 0 only.
        for service in CONSUMERS:
            consumer = AIOKafkaConsumer(
                bootstrap_servers=kafka_bootstrap,
                group_id=cluster.group(service),
                enable_auto_commit=False,
            )
            await consumer.start()
            consumer.assign([TopicPartition(topic, 0), TopicPartition(topic, 1)])
            try:
                offsets = {TopicPartition(topic, 0): OffsetAndMetadata(15, "")}
                if service == "fulfillment":
                    offsets[TopicPartition(topic, 1)] = OffsetAndMetadata(15, "")
                await consumer.commit(offsets)
            finally:
                await consumer.stop()
        await asyncio.sleep(0.5)
        report = await watch.stop()
    finally:
        await producer.stop()
        await admin.close()

    last = report.samples[-1]
    assert last.published == 30
    assert last.applied == {"fulfillment": 30, "defects": 15, "analytics": 15}
    assert {"kafka", "postgres", "pg_backends", "pg_background"} <= set(last.cpu)
    assert report.samples[0].t < last.t
    # While "loading" every record was published and none committed; the commits came after.
    loaded = report.during_load
    assert loaded is not None and loaded.published_per_s > 0
    assert set(loaded.applied_per_s.values()) == {0.0}
    assert timeline.summary(report).startswith("while loading: published")
    parts = report.parts
    assert parts and all(p.published_per_s >= 0 for p in parts)
    assert sum(p.applied_per_s["fulfillment"] * (p.to_s - p.from_s) for p in parts) == (
        pytest.approx(30 - report.samples[0].applied["fulfillment"], abs=0.5)
    )
