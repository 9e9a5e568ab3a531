"""Cancellations and refunds sent back to Amazon: fulfillment.v1's order.canceled and
refund.issued become feed messages at the seller's SP-API connection (here the stand-in), in
batches (one feed per seller, marketplace and feed type), read back from the processing report
per message, retried when refused, skipped with the reason when there is nothing to send."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from spapi_standin import StandIn
from spapi_standin.harness import SELLER_KEY, connect
from sqlalchemy import select

from fulfillment.bootstrap import SPEC as FULFILLMENT
from fulfillment.settings import FulfillmentSettings
from ingest.amazon.service_layer.feed_sender import feed_sender_of
from ingest.bootstrap import SPEC
from ingest.settings import IngestSettings
from orderflow_testkit.harness import RunningService, eventually, running_service
from orderflow_testkit.samples import amazon_order, order_id
from shared import topics
from shared.events.common import Money
from shared.events.fulfillment import (
    ORDER_CANCELED,
    REFUND_ISSUED,
    OrderCanceled,
    RefundComponent,
    RefundIssued,
    RefundItem,
)
from shared.events.registry import build_event
from shared.messaging.decoding import Message
from shared.messaging.envelope import CloudEvent
from tests.ingest.test_sqs_notifications import (
    ACCOUNT,
    REGION,
    consumer_of,
    drain,
    queue_name,
    queue_of,
    subscribe,
)

pytestmark = pytest.mark.integration

MARKETPLACE = "ATVPDKIKX0DER"
FEED_FINISHED = "FEED_PROCESSING_FINISHED"
__all__ = ["queue_name"]  # a fixture (a fresh ElasticMQ queue) shared with the SQS tests
PII_KEY = "n_BqP4SNyVeTHYn4Gjx04lJgXmwo1DbEEpWiUaOM2Qs="
SELLER = "A2SELLER1EXAMPLE"
OTHER_SELLER = "A3SELLER2EXAMPLE"
KEYS = f"sys-key=system,ops-key=ops,seller-key=seller:{SELLER},other-key=seller:{OTHER_SELLER}"
OPS = {"Authorization": "Bearer ops-key"}
OTHER = {"Authorization": "Bearer other-key"}


async def deliver(svc: RunningService, event: CloudEvent) -> bool:
    """Apply one fulfillment.v1 event as ingest's consumer would (inbox + handler, one
    transaction); False when this event id was applied already."""
    message = Message(
        svc.resources.settings.topic(topics.FULFILLMENT), 0, 0, event.subject, event.to_bytes()
    )
    async with svc.resources.sessions() as session, session.begin():
        return await svc.resources.applier.apply(session, message)


def canceled_event(
    oid: str,
    *,
    reason: str = "NoInventory",
    buyer_requested: bool = False,
    canceled_by: str = "seller",
    channel: str | None = "MFN",
    seller: str = SELLER,
) -> CloudEvent:
    payload = OrderCanceled(
        amazon_order_id=oid,
        seller_id=seller,
        marketplace_id=MARKETPLACE,
        fulfillment_channel=channel,
        order_status="Canceled",
        reason=reason,
        buyer_requested=buyer_requested,
        canceled_by=canceled_by,
        canceled_at=datetime.now(UTC),
    )
    return build_event(
        topic=topics.FULFILLMENT,
        event_type=ORDER_CANCELED,
        payload=payload,
        source="fulfillment",
        subject=oid,
        seller_id=seller,
        version=3,
    )


def refund_event(oid: str, refund_id: str, items: tuple[RefundItem, ...]) -> CloudEvent:
    total = sum((i.amount.amount for i in items), Decimal("0"))
    payload = RefundIssued(
        amazon_order_id=oid,
        seller_id=SELLER,
        marketplace_id=MARKETPLACE,
        fulfillment_channel="MFN",
        order_status="Unshipped",
        refund_id=refund_id,
        reason="CustomerReturn",
        items=items,
        total=Money(amount=total, currency_code="USD"),
        refunded_at=datetime.now(UTC),
    )
    return build_event(
        topic=topics.FULFILLMENT,
        event_type=REFUND_ISSUED,
        payload=payload,
        source="fulfillment",
        subject=oid,
        seller_id=SELLER,
        version=4,
    )


def usd(amount: str) -> Money:
    return Money(amount=Decimal(amount), currency_code="USD")


async def take_orders(svc: RunningService, count: int) -> list[dict[str, Any]]:
    """Orders taken in by ingest over REST (so it holds their items)."""
    orders = [amazon_order() for _ in range(count)]
    for start in range(0, count, 500):
        chunk = orders[start : start + 500]
        response = await svc.client.post(
            "/v1/orders/batch", json={"orders": chunk}, headers=SELLER_KEY
        )
        assert response.status_code in (200, 207), response.text
    return orders


async def listed(svc: RunningService, headers: dict[str, str], **params: Any) -> list[Any]:
    response = await svc.client.get("/v1/amazon/submissions", params=params, headers=headers)
    assert response.status_code == 200, response.text
    items: list[Any] = response.json()["items"]
    return items


async def one_with(svc: RunningService, oid: str, status: str, **params: Any) -> dict[str, Any]:
    async def found() -> dict[str, Any] | None:
        items = await listed(svc, OPS, amazon_order_id=oid, status=status, **params)
        return items[0] if items else None

    row: dict[str, Any] = await eventually(found, timeout=20)
    return row


async def announced(svc: RunningService, oid: str) -> list[CloudEvent]:
    outbox = svc.resources.tables.outbox
    stmt = select(outbox.c.payload).where(outbox.c.message_key == oid).order_by(outbox.c.id)
    async with svc.resources.sessions() as session:
        rows = (await session.execute(stmt)).scalars().all()
    events = [CloudEvent.from_bytes(r) for r in rows]
    return [e for e in events if ".amazon_" in e.type]


def feed_settings(settings: IngestSettings, **update: Any) -> IngestSettings:
    return settings.model_copy(
        update={
            "spapi_poller_enabled": False,
            "feed_batch_size": 100,
            "feed_max_wait_seconds": 0.3,
            "feed_poll_seconds": 0.2,
        }
        | update
    )


@pytest.fixture
async def feeds_ingest(spapi_settings: IngestSettings) -> AsyncIterator[RunningService]:
    """Ingest with its relay and background jobs; events come via ``deliver``."""
    settings = feed_settings(spapi_settings)
    async with running_service(SPEC, settings, roles=("relay", "background")) as svc:
        yield svc


@pytest.fixture
async def ingest_fulfillment(
    spapi_settings: IngestSettings,
    make_database: Callable[[str], str],
    kafka_bootstrap: str,
    topic_prefix: str,
) -> AsyncIterator[tuple[RunningService, RunningService]]:
    fulfillment_settings = FulfillmentSettings(
        DATABASE_URL=make_database("fulfillment"),
        KAFKA_BOOTSTRAP_SERVERS=kafka_bootstrap,
        KAFKA_TOPIC_PREFIX=topic_prefix,
        ORDERFLOW_API_KEYS=KEYS,
        ORDERFLOW_PII_KEY=PII_KEY,
    )
    settings = feed_settings(spapi_settings)
    async with (
        running_service(SPEC, settings, roles=("worker", "relay", "background")) as ingest,
        running_service(FULFILLMENT, fulfillment_settings, roles=("worker", "relay")) as ful,
    ):
        yield ingest, ful


@pytest.mark.e2e
async def test_cancellation_in_fulfillment_reaches_amazon_once(
    ingest_fulfillment: tuple[RunningService, RunningService],
    make_standin: Callable[..., StandIn],
) -> None:
    ingest, fulfillment = ingest_fulfillment
    standin = make_standin(scale=1000)
    await connect(ingest, standin, sync_from=datetime.now(UTC) - timedelta(hours=1))
    [order] = await take_orders(ingest, 1)
    oid = order["AmazonOrderId"]

    async def in_fulfillment() -> bool:
        got = await fulfillment.client.get(f"/v1/orders/{oid}", headers=SELLER_KEY)
        return got.status_code == 200

    await eventually(in_fulfillment, timeout=20)
    canceled = await fulfillment.client.post(
        f"/v1/orders/{oid}/cancellation", json={"reason": "NoInventory"}, headers=SELLER_KEY
    )
    assert canceled.status_code == 200, canceled.text

    row = await one_with(ingest, oid, "accepted", kind="cancellation")
    assert row["feed_type"] == "POST_ORDER_ACKNOWLEDGEMENT_DATA"
    assert row["message_id"] == 1 and row["feed_id"]
    [message] = standin.feeds.acknowledgements_of(oid)
    assert message.accepted and message.feed_id == row["feed_id"]
    assert message.marketplace_ids == (MARKETPLACE,)
    assert message.detail["status_code"] == "Failure"
    item_codes = [i["OrderItemId"] for i in order["OrderItems"]]
    assert message.detail["items"] == [
        {"item_code": code, "cancel_reason": "NoInventory"} for code in item_codes
    ]
    [event] = await eventually(lambda: announced(ingest, oid), timeout=10)
    assert event.type == "cancellation.amazon_accepted"
    assert event.data["status"] == "accepted" and event.data["kind"] == "cancellation"
    detail = (await ingest.client.get(f"/v1/orders/{oid}", headers=SELLER_KEY)).json()
    [shown] = detail["amazon_submissions"]
    assert (shown["kind"], shown["status"], shown["id"]) == ("cancellation", "accepted", row["id"])
    assert detail["amazon_shipment_confirmations"] == []  # the confirmations' view only
    await asyncio.sleep(0.5)  # nothing more is sent for it
    assert len(standin.feeds.acknowledgements_of(oid)) == 1


async def test_partial_refund_is_one_adjustment_checked_on_feed_finished(
    spapi_settings: IngestSettings, make_standin: Callable[..., StandIn]
) -> None:
    """The report is read when the feed's FEED_PROCESSING_FINISHED arrives (no poll here)."""
    settings = feed_settings(spapi_settings, feed_poll_seconds=3600.0)
    standin = make_standin(scale=1000)
    finished: list[str] = []
    standin.feeds.on_finished.append(
        lambda n: finished.append(n["payload"]["feedProcessingFinishedNotification"]["feedId"])
    )
    async with running_service(SPEC, settings, roles=("relay", "background")) as svc:
        await connect(svc, standin, sync_from=datetime.now(UTC) - timedelta(hours=1))
        [order] = await take_orders(svc, 1)
        oid = order["AmazonOrderId"]
        code = order["OrderItems"][0]["OrderItemId"]
        refund_id = str(uuid.uuid4())
        items = (
            RefundItem(
                order_item_id=code,
                quantity=1,
                amount=usd("21.49"),
                components=(
                    RefundComponent(type="Principal", amount=usd("19.99")),
                    RefundComponent(type="Tax", amount=usd("1.50")),
                ),
            ),
        )
        event = refund_event(oid, refund_id, items)
        assert await deliver(svc, event)
        assert not await deliver(svc, event)  # the inbox: same event id
        assert await deliver(svc, refund_event(oid, refund_id, items))  # a producer retry
        row = await one_with(svc, oid, "submitted", kind="adjustment")
        [feed_id] = await eventually(lambda: list(finished) or None, timeout=10)
        assert feed_id == row["feed_id"]
        assert await feed_sender_of(svc.resources).check_feed(feed_id) == 1
        [accepted] = await listed(svc, OPS, amazon_order_id=oid)
        assert accepted["status"] == "accepted" and accepted["reference"] == refund_id
    [message] = standin.feeds.adjustments_of(oid)
    assert message.accepted and message.feed_type == "POST_PAYMENT_ADJUSTMENT_DATA"
    assert message.detail["items"] == [
        {
            "item_code": code,
            "reason": "CustomerReturn",
            "components": {"Principal": ("19.99", "USD"), "Tax": ("1.50", "USD")},
            "quantity_cancelled": None,
        }
    ]


async def test_one_refused_message_fails_alone_and_is_retried(
    spapi_settings: IngestSettings, make_standin: Callable[..., StandIn]
) -> None:
    settings = feed_settings(spapi_settings, feed_batch_size=3, feed_max_wait_seconds=2.0)
    standin = make_standin(scale=1000)
    async with running_service(SPEC, settings, roles=("relay", "background")) as svc:
        await connect(svc, standin, sync_from=datetime.now(UTC) - timedelta(hours=1))
        oids = [o["AmazonOrderId"] for o in await take_orders(svc, 3)]
        refused = oids[1]
        description = "The order is already shipped and cannot be cancelled."
        standin.feeds.reject(order_id=refused, code="18021", description=description, times=1)
        for oid in oids:
            assert await deliver(svc, canceled_event(oid))

        failed = await one_with(svc, refused, "failed")
        others = [await one_with(svc, oid, "accepted") for oid in (oids[0], oids[2])]
        assert failed["result_code"] == "18021" and failed["last_error"] == description
        assert {r["feed_id"] for r in others} == {failed["feed_id"]}  # one feed of three
        assert sorted(r["message_id"] for r in [*others, failed]) == [1, 2, 3]
        assert standin.feeds.feed_count() == 1
        [event] = await eventually(lambda: announced(svc, refused), timeout=10)
        assert event.type == "cancellation.amazon_failed"
        assert event.data["result_code"] == "18021" and description in event.data["error"]

        url = f"/v1/amazon/submissions/{failed['id']}/retry"
        assert (await svc.client.post(url, headers=OTHER)).status_code == 404
        retried = await svc.client.post(url, headers=SELLER_KEY)
        assert retried.status_code == 200, retried.text
        assert retried.json()["status"] == "pending"
        accepted = await one_with(svc, refused, "accepted")
        assert accepted["id"] == failed["id"] and accepted["feed_id"] != failed["feed_id"]
        assert (await svc.client.post(url, headers=OPS)).status_code == 409
    assert [m.accepted for m in standin.feeds.acknowledgements_of(refused)] == [False, True]
    assert all(len(standin.feeds.acknowledgements_of(o)) == 1 for o in (oids[0], oids[2]))


async def test_200_cancellations_go_in_few_feeds_within_amazons_rate(
    spapi_settings: IngestSettings, make_standin: Callable[..., StandIn]
) -> None:
    """Amazon's real createFeed plan (burst 15, one per 2 minutes), on both sides."""
    settings = feed_settings(
        spapi_settings,
        spapi_rate_scale=1.0,
        feed_batch_size=100,
        feed_max_wait_seconds=5.0,
        feed_poll_seconds=1.0,
    )
    standin = make_standin(scale=1)
    async with running_service(SPEC, settings, roles=("relay", "background")) as svc:
        await connect(svc, standin, sync_from=datetime.now(UTC) - timedelta(hours=1))
        oids = [o["AmazonOrderId"] for o in await take_orders(svc, 200)]
        for oid in oids:
            assert await deliver(svc, canceled_event(oid, reason="BuyerCanceled"))

        async def all_accepted() -> bool:
            rows = await listed(svc, OPS, kind="cancellation", status="accepted", limit=200)
            return len(rows) == 200

        await eventually(all_accepted, timeout=60)
    assert 2 <= standin.feeds.feed_count() <= 4
    assert standin.requests_of("createFeed", 429) == []
    assert standin.max_excess("createFeed") < 1
    for oid in oids:
        [message] = standin.feeds.acknowledgements_of(oid)
        assert {i["cancel_reason"] for i in message.detail["items"]} == {"BuyerCanceled"}


async def test_fba_amazon_cancels_and_unconnected_sellers_are_skipped_with_the_reason(
    feeds_ingest: RunningService, make_standin: Callable[..., StandIn]
) -> None:
    standin = make_standin(scale=1000)
    await connect(feeds_ingest, standin, sync_from=datetime.now(UTC) - timedelta(hours=1))
    fba, by_amazon, unconnected = order_id(), order_id(), order_id()
    assert await deliver(feeds_ingest, canceled_event(fba, channel="AFN"))
    assert await deliver(feeds_ingest, canceled_event(by_amazon, canceled_by="amazon"))
    assert await deliver(feeds_ingest, canceled_event(unconnected, seller=OTHER_SELLER))
    reasons = {
        oid: (await one_with(feeds_ingest, oid, "skipped"))["last_error"]
        for oid in (fba, by_amazon, unconnected)
    }
    assert "Fulfilled by Amazon" in reasons[fba]
    assert "Canceled at Amazon (by the amazon)" in reasons[by_amazon]
    assert reasons[unconnected] == "Seller A3SELLER2EXAMPLE has no active SP-API connection."
    # the seller sees its own, not another seller's
    mine = await listed(feeds_ingest, SELLER_KEY, status="skipped")
    assert {r["amazon_order_id"] for r in mine} == {fba, by_amazon}
    await asyncio.sleep(0.5)
    assert standin.feeds.feed_count() == 0


async def test_two_instances_put_each_message_in_one_feed(
    spapi_settings: IngestSettings, make_standin: Callable[..., StandIn]
) -> None:
    settings = feed_settings(spapi_settings, feed_batch_size=7, feed_max_wait_seconds=0.2)
    standin = make_standin(scale=1000)
    async with (
        running_service(SPEC, settings, roles=("relay", "background")) as one,
        running_service(SPEC, settings, roles=("background",)) as two,
    ):
        await connect(one, standin, sync_from=datetime.now(UTC) - timedelta(hours=1))
        oids = [o["AmazonOrderId"] for o in await take_orders(one, 40)]
        for n, oid in enumerate(oids):
            assert await deliver(one if n % 2 else two, canceled_event(oid))

        async def all_accepted() -> bool:
            rows = await listed(one, OPS, status="accepted", limit=100)
            return len(rows) == 40

        await eventually(all_accepted, timeout=30)
    assert all(len(standin.feeds.acknowledgements_of(oid)) == 1 for oid in oids)


async def test_a_fatal_feed_fails_its_messages_with_the_reason_and_they_can_be_retried(
    feeds_ingest: RunningService, make_standin: Callable[..., StandIn]
) -> None:
    standin = make_standin(scale=1000)
    standin.feeds.fatal = 1
    await connect(feeds_ingest, standin, sync_from=datetime.now(UTC) - timedelta(hours=1))
    [order] = await take_orders(feeds_ingest, 1)
    oid = order["AmazonOrderId"]
    assert await deliver(feeds_ingest, canceled_event(oid))
    failed = await one_with(feeds_ingest, oid, "failed")
    assert f"feed {failed['feed_id']} FATAL" in failed["last_error"]
    assert standin.feeds.acknowledgements_of(oid) == []
    retried = await feeds_ingest.client.post(
        f"/v1/amazon/submissions/{failed['id']}/retry", headers=SELLER_KEY
    )
    assert retried.status_code == 200, retried.text
    accepted = await one_with(feeds_ingest, oid, "accepted")
    assert accepted["feed_id"] != failed["feed_id"]
    assert len(standin.feeds.acknowledgements_of(oid)) == 1


async def test_feed_processing_finished_on_sqs_reads_the_report_at_once(
    spapi_settings: IngestSettings,
    make_standin: Callable[..., StandIn],
    sqs_endpoint: str,
    queue_name: str,
) -> None:
    """No poll here: the notification Amazon puts on the SQS queue marks the messages."""
    settings = feed_settings(spapi_settings, feed_poll_seconds=3600.0)
    standin = make_standin(scale=1000)
    standin.notifications.sqs_endpoint = sqs_endpoint
    await subscribe(standin, f"arn:aws:sqs:{REGION}:{ACCOUNT}:{queue_name}", FEED_FINISHED)
    finished: list[dict[str, Any]] = []
    standin.feeds.on_finished.append(finished.append)
    async with running_service(SPEC, settings, roles=("relay", "background")) as svc:
        await connect(svc, standin, sync_from=datetime.now(UTC) - timedelta(hours=1))
        [order] = await take_orders(svc, 1)
        oid = order["AmazonOrderId"]
        assert await deliver(svc, canceled_event(oid))
        submitted = await one_with(svc, oid, "submitted")
        [notification] = await eventually(lambda: list(finished) or None, timeout=10)
        await standin.notifications.publish(notification)  # as Amazon does
        sender = feed_sender_of(svc.resources)
        async with queue_of(sqs_endpoint, queue_name) as queue:
            consumer = consumer_of(svc, queue, on_feed_finished=sender.on_feed_finished)
            [handled] = await drain(consumer, 1)
        assert (handled.result, handled.deleted) == ("feed_finished", True)
        [row] = await listed(svc, OPS, amazon_order_id=oid)
        assert (row["status"], row["feed_id"]) == ("accepted", submitted["feed_id"])
