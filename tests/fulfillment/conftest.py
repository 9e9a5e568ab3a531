"""Fulfillment (and, for end-to-end tests, ingest) in-process on real PostgreSQL and Kafka.

``apply_snapshot`` feeds an orders.v1 event through the service's own applier (inbox for
facts + handler, one transaction), exactly as the consumer would, without waiting for Kafka; the
end-to-end tests go through Kafka for real.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select

from fulfillment.bootstrap import SPEC
from fulfillment.settings import FulfillmentSettings
from orderflow_testkit.harness import RunningService, running_service
from orderflow_testkit.samples import order_id
from shared import topics
from shared.events.common import Money
from shared.events.orders import ORDER_CREATED, ORDER_UPDATED, OrderItem, OrderSnapshot, ShipTo
from shared.events.registry import build_event
from shared.messaging.decoding import Message
from shared.messaging.envelope import CloudEvent
from shared.pii import PIICipher

PII_KEY = "n_BqP4SNyVeTHYn4Gjx04lJgXmwo1DbEEpWiUaOM2Qs="
SELLER = "A2SELLER1EXAMPLE"
OTHER_SELLER = "A3SELLER2EXAMPLE"
KEYS = f"sys-key=system,ops-key=ops,seller-key=seller:{SELLER},other-key=seller:{OTHER_SELLER}"
AS_SELLER = {"Authorization": "Bearer seller-key"}
AS_OTHER = {"Authorization": "Bearer other-key"}
AS_OPS = {"Authorization": "Bearer ops-key"}


@pytest.fixture
def fulfillment_settings(
    make_database: Callable[[str], str], kafka_bootstrap: str, topic_prefix: str
) -> FulfillmentSettings:
    return FulfillmentSettings(
        DATABASE_URL=make_database("fulfillment"),
        KAFKA_BOOTSTRAP_SERVERS=kafka_bootstrap,
        KAFKA_TOPIC_PREFIX=topic_prefix,
        KAFKA_PARTITIONS=3,
        ORDERFLOW_API_KEYS=KEYS,
        ORDERFLOW_PII_KEY=PII_KEY,
        SHIP_LATE_INTERVAL_SECONDS=0.2,
    )


@pytest.fixture
async def fulfillment(fulfillment_settings: FulfillmentSettings) -> AsyncIterator[RunningService]:
    """The API with its ship-by clock; no Kafka consumer (snapshots come via ``apply``)."""
    async with running_service(SPEC, fulfillment_settings, roles=("background",)) as svc:
        yield svc


def snapshot(
    *,
    amazon_order_id: str | None = None,
    version: int = 1,
    status: str = "Unshipped",
    channel: str = "MFN",
    seller_id: str = SELLER,
    purchased: datetime | None = None,
    latest_ship_date: datetime | None = None,
    quantities: tuple[int, ...] = (2,),
    unit_price: str = "10.00",
    email: str = "Jane.Buyer@Example.com",
    buyer_cancel: bool = False,
    **fields: Any,
) -> OrderSnapshot:
    oid = amazon_order_id or order_id()
    purchased = purchased or datetime.now(UTC) - timedelta(hours=2)
    sealed = PIICipher(PII_KEY).seal(
        {
            "buyer_name": "Jane Q. Buyer",
            "buyer_email": email,
            "shipping_address": {
                "Name": "Jane Q. Buyer",
                "AddressLine1": "1200 Elm Street",
                "City": "Seattle",
                "StateOrRegion": "WA",
                "PostalCode": "98101",
                "CountryCode": "US",
            },
        }
    )
    items = tuple(
        OrderItem(
            order_item_id=f"{oid[-7:]}{n:04d}",
            asin=f"B0TEST{n:04d}",
            seller_sku=f"SKU-{n}",
            title=f"Ceramic mug number {n}",
            quantity_ordered=q,
            item_price=Money(amount=Decimal(unit_price) * q, currency_code="USD"),
            item_tax=Money(amount=Decimal("1.00"), currency_code="USD"),
            shipping_price=Money(amount=Decimal("4.00"), currency_code="USD"),
        )
        for n, q in enumerate(quantities, start=1)
    )
    total = sum((i.item_price.amount + 5 for i in items if i.item_price), Decimal("0"))
    values: dict[str, Any] = {
        "amazon_order_id": oid,
        "seller_id": seller_id,
        "version": version,
        "marketplace_id": "ATVPDKIKX0DER",
        "sales_channel": "Amazon.com",
        "purchase_date": purchased,
        "last_update_date": purchased + timedelta(minutes=version),
        "order_status": status,
        "fulfillment_channel": channel,
        "ship_service_level": "Std US D2D Dom",
        "order_total": Money(amount=total, currency_code="USD"),
        "latest_ship_date": latest_ship_date or purchased + timedelta(days=2),
        "latest_delivery_date": purchased + timedelta(days=7),
        "is_buyer_requested_cancel": buyer_cancel,
        "ship_to": ShipTo(city="Seattle", postal_code="98101", country_code="US"),
        "buyer_pii": sealed,
        "items": items,
    }
    return OrderSnapshot(**(values | fields))


def event_of(snap: OrderSnapshot) -> CloudEvent:
    return build_event(
        topic=topics.ORDERS,
        event_type=ORDER_CREATED if snap.version == 1 else ORDER_UPDATED,
        payload=snap,
        source="ingest",
        subject=snap.amazon_order_id,
        seller_id=snap.seller_id,
        version=snap.version,
    )


async def apply(svc: RunningService, snap: OrderSnapshot | CloudEvent) -> bool:
    """Apply one orders.v1 event as the consumer would; False when the inbox already holds it
    (a fact; snapshots take no inbox row and are dropped by their version)."""
    event = snap if isinstance(snap, CloudEvent) else event_of(snap)
    message = Message(
        svc.resources.settings.topic(topics.ORDERS), 0, 0, event.subject, event.to_bytes()
    )
    async with svc.resources.sessions() as session, session.begin():
        return await svc.resources.applier.apply(session, message)


async def outbox_events(svc: RunningService, amazon_order_id: str) -> list[CloudEvent]:
    """What fulfillment queued for fulfillment.v1 about one order, in order."""
    outbox = svc.resources.tables.outbox
    stmt = (
        select(outbox.c.payload)
        .where(outbox.c.message_key == amazon_order_id, ~outbox.c.topic.like("%.dlq"))
        .order_by(outbox.c.id)
    )
    async with svc.resources.sessions() as session:
        rows = (await session.execute(stmt)).scalars().all()
    return [CloudEvent.from_bytes(r) for r in rows]


def new_id() -> str:
    return str(uuid.uuid4())


@pytest.fixture
async def ingest_and_fulfillment(
    make_database: Callable[[str], str],
    kafka_bootstrap: str,
    topic_prefix: str,
    fulfillment_settings: FulfillmentSettings,
) -> AsyncIterator[tuple[RunningService, RunningService]]:
    """Ingest (relay) and fulfillment (worker, relay, ship-by clock) on the same Kafka."""
    from ingest.bootstrap import SPEC as INGEST
    from ingest.settings import IngestSettings

    ingest_settings = IngestSettings(
        DATABASE_URL=make_database("ingest"),
        KAFKA_BOOTSTRAP_SERVERS=kafka_bootstrap,
        KAFKA_TOPIC_PREFIX=topic_prefix,
        ORDERFLOW_API_KEYS=KEYS,
        ORDERFLOW_PII_KEY=PII_KEY,
    )
    async with (
        running_service(INGEST, ingest_settings, roles=("relay",)) as ingest,
        running_service(
            SPEC, fulfillment_settings, roles=("worker", "relay", "background")
        ) as fulfillment,
    ):
        yield ingest, fulfillment


@pytest.fixture
async def fulfillment_consuming(
    fulfillment_settings: FulfillmentSettings,
) -> AsyncIterator[RunningService]:
    """Fulfillment with its Kafka consumer and relay running."""
    async with running_service(SPEC, fulfillment_settings, roles=("worker", "relay")) as svc:
        yield svc
