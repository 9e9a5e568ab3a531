"""``POST /v1/connections/{id}/subscriptions`` against the stand-in's Notifications API and
ElasticMQ: the queue's destination and both subscriptions are set up once and shown on the
connection; a notification the stand-in then delivers to the queue updates the order."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta

import pytest
from aiobotocore.session import get_session
from spapi_standin.harness import SELLER_KEY, connect, events_by_order
from spapi_standin.notifications import order_change
from spapi_standin.orders import v2026_order
from spapi_standin.server import StandIn

from ingest.amazon.service_layer.sqs_notifications import run_notifications
from ingest.bootstrap import SPEC
from ingest.settings import IngestSettings
from orderflow_testkit.harness import running_service

REGION, ACCOUNT = "us-east-1", "000000000000"
TYPES = {"ORDER_CHANGE", "FEED_PROCESSING_FINISHED"}


@pytest.fixture
async def queue_url(sqs_endpoint: str) -> AsyncIterator[str]:
    """A fresh queue on ElasticMQ, deleted after the test."""
    creator = get_session().create_client(
        "sqs",
        region_name=REGION,
        endpoint_url=sqs_endpoint,
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )
    async with creator as client:
        url = (await client.create_queue(QueueName=f"subs-{secrets.token_hex(6)}"))["QueueUrl"]
        yield str(url)
        await client.delete_queue(QueueUrl=url)


def _with_queue(settings: IngestSettings, sqs_endpoint: str, queue_url: str) -> IngestSettings:
    return settings.model_copy(
        update={
            "sqs_queue_url": queue_url,
            "sqs_endpoint_url": sqs_endpoint,
            "sqs_access_key_id": "test",
            "sqs_secret_access_key": "test",
            "sqs_wait_seconds": 1,
        }
    )


@pytest.mark.unit
def test_the_queue_arn_comes_from_the_queue_url_unless_it_is_set() -> None:
    url = "https://sqs.eu-west-1.amazonaws.com/123456789012/orderflow-notifications"
    settings = IngestSettings(SQS_QUEUE_URL=url, SQS_REGION="eu-west-1")
    assert settings.queue_arn() == "arn:aws:sqs:eu-west-1:123456789012:orderflow-notifications"
    named = IngestSettings(SQS_QUEUE_URL=url, SQS_QUEUE_ARN="arn:aws:sqs:x:1:q")
    assert named.queue_arn() == "arn:aws:sqs:x:1:q"
    assert IngestSettings().queue_arn() == ""


@pytest.mark.integration
async def test_subscribing_twice_sets_up_amazon_once_and_notifications_then_update_orders(
    make_standin: Callable[..., StandIn],
    spapi_settings: IngestSettings,
    sqs_endpoint: str,
    queue_url: str,
) -> None:
    standin = make_standin(scale=1000)
    standin.notifications.sqs_endpoint = sqs_endpoint
    settings = _with_queue(spapi_settings, sqs_endpoint, queue_url)
    arn = f"arn:aws:sqs:{REGION}:{ACCOUNT}:{queue_url.rsplit('/', 1)[1]}"
    now = datetime.now(UTC)
    order = v2026_order(created=now - timedelta(hours=1), updated=now - timedelta(minutes=30))
    standin.put(order)
    async with running_service(SPEC, settings, roles=("relay",)) as svc:
        created = await connect(svc, standin, sync_from=now - timedelta(days=1))
        assert created["notifications"] == {
            "destination_id": None,
            "subscriptions": {},
            "last_error": None,
        }
        path = f"/v1/connections/{created['id']}/subscriptions"
        first = await svc.client.post(path, headers=SELLER_KEY)
        assert first.status_code == 200, first.text
        shown = first.json()["notifications"]
        [destination] = standin.notifications.destinations.values()
        assert destination["resource"]["sqs"]["arn"] == arn
        assert shown["destination_id"] == destination["destinationId"]
        assert shown["last_error"] is None
        assert set(shown["subscriptions"]) == TYPES
        for kind, subscription in shown["subscriptions"].items():
            at_amazon = standin.notifications.subscriptions[(standin.seller_id, kind)]
            assert subscription == {
                "status": "subscribed",
                "subscription_id": at_amazon["subscriptionId"],
                "destination_id": destination["destinationId"],
            }

        again = await svc.client.post(path, headers=SELLER_KEY)
        assert again.status_code == 200, again.text
        assert again.json()["notifications"] == shown
        assert len(standin.notifications.destinations) == 1
        assert len(standin.notifications.subscriptions) == 2
        assert len(standin.requests_of("createDestination", 200)) == 1
        assert len(standin.requests_of("createSubscription", 409)) == 2  # read back instead
        listed = await svc.client.get(f"/v1/connections/{created['id']}", headers=SELLER_KEY)
        assert listed.json()["notifications"] == shown

        job = asyncio.create_task(run_notifications(svc.resources))
        try:
            await standin.notifications.publish(order_change(order, seller=standin.seller_id))
            events = await events_by_order(svc, {order["orderId"]}, timeout=30)
        finally:
            job.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await job
    assert [e.type for e in events[order["orderId"]]] == ["order.created"]


@pytest.mark.integration
async def test_what_amazon_refuses_is_shown_on_the_connection(
    make_standin: Callable[..., StandIn],
    spapi_settings: IngestSettings,
    sqs_endpoint: str,
    queue_url: str,
) -> None:
    """A seller already subscribed to another destination: Amazon keeps delivering there, so
    the connection says so instead of claiming the subscription."""
    standin = make_standin(scale=1000)
    standin.notifications.destinations["elsewhere"] = {
        "name": "another app's",
        "destinationId": "elsewhere",
        "resource": {"sqs": {"arn": f"arn:aws:sqs:{REGION}:{ACCOUNT}:someone-else"}},
    }
    standin.notifications.subscriptions[(standin.seller_id, "ORDER_CHANGE")] = {
        "subscriptionId": "sub-elsewhere",
        "payloadVersion": "1.0",
        "destinationId": "elsewhere",
    }
    settings = _with_queue(spapi_settings, sqs_endpoint, queue_url)
    async with running_service(SPEC, settings, roles=()) as svc:
        created = await connect(svc, standin, sync_from=datetime.now(UTC))
        path = f"/v1/connections/{created['id']}/subscriptions"
        refused = await svc.client.post(path, headers=SELLER_KEY)
        assert refused.status_code == 502, refused.text
        assert "elsewhere" in refused.json()["detail"]
        shown = (
            await svc.client.get(f"/v1/connections/{created['id']}", headers=SELLER_KEY)
        ).json()
    notifications = shown["notifications"]
    assert notifications["subscriptions"]["ORDER_CHANGE"] == {
        "status": "elsewhere",
        "subscription_id": "sub-elsewhere",
        "destination_id": "elsewhere",
    }
    assert notifications["subscriptions"]["FEED_PROCESSING_FINISHED"]["status"] == "subscribed"
    assert "delete that subscription" in notifications["last_error"]


@pytest.mark.integration
async def test_without_a_queue_subscribing_is_refused(
    make_standin: Callable[..., StandIn], spapi_settings: IngestSettings
) -> None:
    standin = make_standin(scale=1000)
    async with running_service(SPEC, spapi_settings, roles=()) as svc:
        created = await connect(svc, standin, sync_from=datetime.now(UTC))
        path = f"/v1/connections/{created['id']}/subscriptions"
        refused = await svc.client.post(path, headers=SELLER_KEY)
    assert refused.status_code == 409, refused.text
    assert "SQS_QUEUE_URL" in refused.json()["detail"]
    assert standin.notifications.destinations == {}
