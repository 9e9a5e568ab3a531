"""ingest.amazon.adapters.sqs against a real SQS-compatible server (ElasticMQ, the sqs_endpoint
fixture): long-poll receive, delete by receipt handle, redelivery after the visibility
timeout, and Amazon's notification bodies parsed (a malformed one surfaces, never raises)."""

from __future__ import annotations

import asyncio
import json
import secrets
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import pytest
from aiobotocore.session import get_session

from ingest.amazon.adapters.sqs import (
    FeedFinished,
    Malformed,
    NotificationQueue,
    OrderChange,
    parse,
)

CREDENTIALS = {"aws_access_key_id": "test", "aws_secret_access_key": "test"}


def order_change_body(notification_id: str | None = None) -> dict[str, Any]:
    return {
        "NotificationVersion": "1.0",
        "NotificationType": "ORDER_CHANGE",
        "PayloadVersion": "1.0",
        "EventTime": "2026-12-01T10:00:00Z",
        "Payload": {
            "OrderChangeNotification": {
                "NotificationLevel": "OrderLevel",
                "SellerId": "A2SELLER1EXAMPLE",
                "AmazonOrderId": "112-1234567-1234567",
                "OrderChangeType": "OrderStatusChange",
                "Summary": {"MarketplaceId": "ATVPDKIKX0DER", "OrderStatus": "Unshipped"},
            }
        },
        "NotificationMetadata": {
            "ApplicationId": "amzn1.sellerapps.app.standin",
            "SubscriptionId": str(uuid.uuid4()),
            "PublishTime": "2026-12-01T10:00:01Z",
            "NotificationId": notification_id or str(uuid.uuid4()),
        },
    }


def feed_finished_body() -> dict[str, Any]:
    return {
        "notificationVersion": "2020-09-04",
        "notificationType": "FEED_PROCESSING_FINISHED",
        "payloadVersion": "2020-09-04",
        "eventTime": "2026-12-01T10:00:00Z",
        "payload": {
            "feedProcessingFinishedNotification": {
                "sellerId": "A2SELLER1EXAMPLE",
                "accountId": "amzn1.merchant.o.EXAMPLE",
                "feedId": "50012345",
                "feedType": "POST_ORDER_ACKNOWLEDGEMENT_DATA",
                "processingStatus": "DONE",
                "resultFeedDocumentId": "amzn1.tortuga.4.na.EXAMPLE",
            }
        },
        "notificationMetadata": {
            "applicationId": "amzn1.sellerapps.app.standin",
            "subscriptionId": str(uuid.uuid4()),
            "publishTime": "2026-12-01T10:00:01Z",
            "notificationId": str(uuid.uuid4()),
        },
    }


@pytest.fixture
def make_queue(sqs_endpoint: str) -> Callable[..., Any]:
    """``async with make_queue(visibility=s) as queue``: a NotificationQueue on a fresh queue."""

    @asynccontextmanager
    async def make(visibility: int = 30) -> AsyncIterator[NotificationQueue]:
        name = f"test-{secrets.token_hex(6)}"
        creator = get_session().create_client(
            "sqs", region_name="us-east-1", endpoint_url=sqs_endpoint, **CREDENTIALS
        )
        async with creator as client:
            url = (await client.create_queue(QueueName=name))["QueueUrl"]
            try:
                async with NotificationQueue(
                    queue_url=url,
                    endpoint_url=sqs_endpoint,
                    access_key_id="test",
                    secret_access_key="test",
                    wait_seconds=1,
                    visibility_timeout_seconds=visibility,
                ) as queue:
                    yield queue
            finally:
                await client.delete_queue(QueueUrl=url)

    return make


@pytest.mark.integration
async def test_send_receive_delete(make_queue: Callable[..., Any]) -> None:
    async with make_queue() as queue:
        body = json.dumps(order_change_body())
        await queue.send(body)
        [message] = await queue.receive()
        assert message.body == body and message.receive_count == 1
        await queue.delete(message)
        assert await queue.receive() == []


@pytest.mark.integration
async def test_a_message_not_deleted_comes_back_after_the_visibility_timeout(
    make_queue: Callable[..., Any],
) -> None:
    async with make_queue(visibility=1) as queue:
        await queue.send(json.dumps(order_change_body()))
        [first] = await queue.receive()
        await asyncio.sleep(1.5)
        [again] = await queue.receive()
        assert again.message_id == first.message_id and again.receive_count == 2
        assert again.receipt_handle != first.receipt_handle
        await queue.delete(again)
        await asyncio.sleep(1.5)
        assert await queue.receive() == []


@pytest.mark.integration
async def test_a_received_message_is_hidden_from_other_receivers(
    make_queue: Callable[..., Any],
) -> None:
    async with make_queue(visibility=30) as queue:
        await queue.send(json.dumps(order_change_body()))
        assert len(await queue.receive()) == 1
        assert await queue.receive() == []


@pytest.mark.integration
async def test_bodies_from_the_queue_parse_or_surface_as_malformed(
    make_queue: Callable[..., Any],
) -> None:
    change, feed = order_change_body(), feed_finished_body()
    async with make_queue() as queue:
        for body in (json.dumps(change), json.dumps(feed), "{not json", '{"NotificationType": 1}'):
            await queue.send(body)
        received: list[Any] = []
        while len(received) < 4:
            batch = await queue.receive()
            assert batch, "messages missing"
            received += batch
        parsed = {m.body: parse(m.body) for m in received}
    got_change = parsed[json.dumps(change)]
    assert isinstance(got_change, OrderChange)
    assert got_change.notification_id == change["NotificationMetadata"]["NotificationId"]
    assert got_change.envelope.Payload.OrderChangeNotification.AmazonOrderId == (
        "112-1234567-1234567"
    )
    got_feed = parsed[json.dumps(feed)]
    assert isinstance(got_feed, FeedFinished)
    assert got_feed.envelope.payload.feedProcessingFinishedNotification.feedId == "50012345"
    not_json = parsed["{not json"]
    assert isinstance(not_json, Malformed) and not_json.raw == {"body": "{not json"}
    assert "not JSON" in not_json.reasons[0]["message"]
    assert isinstance(parsed['{"NotificationType": 1}'], Malformed)


@pytest.mark.unit
def test_an_order_change_missing_its_order_id_is_malformed_with_the_field() -> None:
    body = order_change_body()
    del body["Payload"]["OrderChangeNotification"]["AmazonOrderId"]
    got = parse(json.dumps(body))
    assert isinstance(got, Malformed) and got.raw == body
    assert got.reasons[0]["field"] == "Payload.OrderChangeNotification.AmazonOrderId"


@pytest.mark.unit
def test_other_notification_types_and_non_objects_are_malformed() -> None:
    other = parse(json.dumps({"notificationType": "ANY_OFFER_CHANGED"}))
    assert isinstance(other, Malformed) and "ANY_OFFER_CHANGED" in other.reasons[0]["message"]
    assert isinstance(parse("[1, 2]"), Malformed)
