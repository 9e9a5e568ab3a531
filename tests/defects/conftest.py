"""Defects running in-process against the session's real PostgreSQL and Kafka, and helpers to
publish the orders.v1 / fulfillment.v1 events it consumes (as ingest and fulfillment would)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer
from pydantic import BaseModel

from defects.bootstrap import SPEC
from defects.settings import DefectsSettings
from orderflow_testkit.harness import RunningService, read_topic, running_service
from orderflow_testkit.samples import order_id
from shared.events.fulfillment import ItemQuantity, Shipment
from shared.events.orders import OrderSnapshot
from shared.events.registry import build_event
from shared.messaging.envelope import CloudEvent
from shared.topics import DEFECTS, FULFILLMENT, ORDERS

SELLER = "A2SELLER1EXAMPLE"
OTHER_SELLER = "A3SELLER2EXAMPLE"
KEYS = f"sys-key=system,ops-key=ops,seller-key=seller:{SELLER},other-key=seller:{OTHER_SELLER}"
AS_SELLER = {"Authorization": "Bearer seller-key"}
AS_OTHER = {"Authorization": "Bearer other-key"}
AS_OPS = {"Authorization": "Bearer ops-key"}


@pytest.fixture
def defects_settings(
    make_database: Callable[[str], str], kafka_bootstrap: str, topic_prefix: str
) -> DefectsSettings:
    return DefectsSettings(
        DATABASE_URL=make_database("defects"),
        KAFKA_BOOTSTRAP_SERVERS=kafka_bootstrap,
        KAFKA_TOPIC_PREFIX=topic_prefix,
        ORDERFLOW_API_KEYS=KEYS,
        OVERDUE_SCAN_SECONDS=0.2,
    )


@pytest.fixture
async def defects(defects_settings: DefectsSettings) -> AsyncIterator[RunningService]:
    async with running_service(
        SPEC, defects_settings, roles=("worker", "relay", "background")
    ) as svc:
        yield svc


@pytest.fixture
async def producer(kafka_bootstrap: str) -> AsyncIterator[AIOKafkaProducer]:
    kafka = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all")
    await kafka.start()
    yield kafka
    await kafka.stop()


def new_order_id() -> str:
    return order_id()


async def publish(
    producer: AIOKafkaProducer,
    svc: RunningService,
    *,
    topic: str,
    event_type: str,
    payload: BaseModel,
    version: int,
    source: str,
) -> CloudEvent:
    data: Any = payload
    event = build_event(
        topic=topic,
        event_type=event_type,
        payload=payload,
        source=source,
        subject=data.amazon_order_id,
        seller_id=data.seller_id,
        version=version,
    )
    await producer.send_and_wait(
        svc.resources.settings.topic(topic), event.to_bytes(), key=event.subject.encode()
    )
    return event


def snapshot(amazon_order_id: str, *, seller_id: str = SELLER, version: int = 1) -> OrderSnapshot:
    purchased = datetime.now(UTC) - timedelta(days=5)
    return OrderSnapshot.model_validate(
        {
            "amazon_order_id": amazon_order_id,
            "seller_id": seller_id,
            "version": version,
            "marketplace_id": "ATVPDKIKX0DER",
            "purchase_date": purchased,
            "last_update_date": purchased + timedelta(minutes=version),
            "order_status": "Shipped",
            "fulfillment_channel": "MFN",
            "order_total": {"amount": "39.98", "currency_code": "USD"},
            "latest_ship_date": purchased + timedelta(days=2),
            "earliest_delivery_date": purchased + timedelta(days=3),
            "latest_delivery_date": purchased + timedelta(days=7),
        }
    )


async def publish_order(
    producer: AIOKafkaProducer, svc: RunningService, order: OrderSnapshot
) -> None:
    await publish(
        producer,
        svc,
        topic=ORDERS,
        event_type="order.created" if order.version == 1 else "order.updated",
        payload=order,
        version=order.version,
        source="ingest",
    )


def shipment(
    amazon_order_id: str,
    *,
    seller_id: str = SELLER,
    on_time: bool = True,
    is_buy_shipping: bool = False,
    tracking_number: str = "1Z999AA10123456784",
    carrier_code: str = "UPS",
) -> Shipment:
    shipped = datetime.now(UTC) - timedelta(days=4)
    return Shipment(
        amazon_order_id=amazon_order_id,
        seller_id=seller_id,
        fulfillment_channel="MFN",
        order_status="Shipped",
        shipment_id=f"shp-{amazon_order_id}",
        carrier_code=carrier_code,
        tracking_number=tracking_number,
        ship_date=shipped,
        items=(ItemQuantity(order_item_id="1", quantity=2),),
        latest_ship_date=shipped + timedelta(days=1),
        on_time=on_time,
        is_buy_shipping=is_buy_shipping,
        valid_tracking=True,
    )


async def publish_fulfillment(
    producer: AIOKafkaProducer,
    svc: RunningService,
    event_type: str,
    payload: BaseModel,
    *,
    version: int,
) -> None:
    await publish(
        producer,
        svc,
        topic=FULFILLMENT,
        event_type=event_type,
        payload=payload,
        version=version,
        source="fulfillment",
    )


def claim_body(amazon_order_id: str, **overrides: Any) -> dict[str, Any]:
    body = {
        "amazon_order_id": amazon_order_id,
        "kind": "a_to_z",
        "reason": "item_not_received",
        "amount": {"amount": "39.98", "currency_code": "USD"},
        "filed_at": (datetime.now(UTC) - timedelta(hours=1)).isoformat(),
    }
    body.update(overrides)
    return body


async def defects_events(
    svc: RunningService, amazon_order_id: str, count: int, timeout: float = 20
) -> list[CloudEvent]:
    """The events on defects.v1 keyed by this order, once at least ``count`` arrived."""
    key = amazon_order_id.encode()
    records = await read_topic(
        svc.resources.settings.kafka_bootstrap_servers,
        svc.resources.settings.topic(DEFECTS),
        until=lambda rs: sum(r.key == key for r in rs) >= count,
        timeout=timeout,
    )
    return [CloudEvent.from_bytes(r.value) for r in records if r.key == key]
