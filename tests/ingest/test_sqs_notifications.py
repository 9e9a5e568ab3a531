"""Amazon's notifications through SQS end to end: the stand-in's Notifications API
(destinations, subscriptions) and its delivery to the destination's queue on ElasticMQ, and
ingest's consumer (service_layer.sqs_notifications) on that queue: one update however often a
notification is delivered, deleted only after the work committed, malformed ones quarantined."""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import signal
import sys
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from aiobotocore.session import get_session
from spapi_standin.harness import connect, events_by_order
from spapi_standin.notifications import SCOPE, feed_processing_finished, order_change
from spapi_standin.orders import v2026_order
from spapi_standin.server import Fault, StandIn
from sqlalchemy import select

from ingest.adapters import orm
from ingest.amazon.adapters.sqs import FeedFinished, NotificationQueue
from ingest.amazon.service_layer.sqs_notifications import (
    Handled,
    NotificationsConsumer,
    run_notifications,
)
from ingest.amazon.service_layer.sync import spapi_of, uow_factory_of, vault_of
from ingest.bootstrap import SPEC
from ingest.settings import IngestSettings
from orderflow_testkit.harness import RunningService, running_service
from shared import topics
from shared.events.common import EncryptedPII
from shared.pii import PIICipher

pytestmark = pytest.mark.integration

REGION, ACCOUNT = "us-east-1", "000000000000"


@pytest.fixture
async def queue_name(sqs_endpoint: str) -> AsyncIterator[str]:
    """A fresh queue on ElasticMQ, deleted after the test."""
    name = f"notif-{secrets.token_hex(6)}"
    creator = get_session().create_client(
        "sqs",
        region_name=REGION,
        endpoint_url=sqs_endpoint,
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )
    async with creator as client:
        url = (await client.create_queue(QueueName=name))["QueueUrl"]
        yield name
        await client.delete_queue(QueueUrl=url)


async def _token(standin: StandIn, **form: str) -> str:
    async with httpx.AsyncClient(base_url=standin.base_url) as http:
        data = {"client_id": standin.client_id, "client_secret": standin.client_secret, **form}
        response = await http.post("/auth/o2/token", data=data)
        assert response.status_code == 200, response.text
        return str(response.json()["access_token"])


async def subscribe(standin: StandIn, queue_arn: str, *types: str) -> dict[str, Any]:
    """What ingest does to subscribe a connection: createDestination with a grantless token,
    createSubscription per type with the seller's."""
    grantless = await _token(standin, grant_type="client_credentials", scope=SCOPE)
    seller = await _token(standin, grant_type="refresh_token", refresh_token=standin.refresh_token)
    async with httpx.AsyncClient(base_url=f"{standin.base_url}/notifications/v1") as http:
        created = await http.post(
            "/destinations",
            json={"name": "orderflow", "resourceSpecification": {"sqs": {"arn": queue_arn}}},
            headers={"x-amz-access-token": grantless},
        )
        assert created.status_code == 200, created.text
        destination = created.json()["payload"]
        for kind in types:
            made = await http.post(
                f"/subscriptions/{kind}",
                json={"payloadVersion": "1.0", "destinationId": destination["destinationId"]},
                headers={"x-amz-access-token": seller},
            )
            assert made.status_code == 200, made.text
    return dict(destination)


def consumer_of(svc: RunningService, queue: NotificationQueue, **kw: Any) -> NotificationsConsumer:
    resources = svc.resources
    return NotificationsConsumer(
        queue=queue,
        uow_factory=uow_factory_of(resources),
        spapi=spapi_of(resources),
        vault=vault_of(resources),
        pii=PIICipher(resources.settings.pii_key),
        topic=resources.settings.topic(topics.ORDERS),
        **kw,
    )


def queue_of(sqs_endpoint: str, name: str, *, visibility: int = 30) -> NotificationQueue:
    return NotificationQueue(
        queue_url=f"{sqs_endpoint}/{ACCOUNT}/{name}",
        endpoint_url=sqs_endpoint,
        region=REGION,
        access_key_id="test",
        secret_access_key="test",
        wait_seconds=1,
        visibility_timeout_seconds=visibility,
    )


async def drain(consumer: NotificationsConsumer, count: int) -> list[Handled]:
    handled: list[Handled] = []
    for _ in range(20):
        handled += await consumer.run_once()
        if len(handled) >= count:
            return handled
    raise AssertionError(f"only {len(handled)} of {count} messages arrived: {handled}")


async def test_the_standin_keeps_destinations_grantless_and_subscriptions_per_seller(
    make_standin: Callable[..., StandIn], sqs_endpoint: str, queue_name: str
) -> None:
    standin = make_standin(scale=1000)
    arn = f"arn:aws:sqs:{REGION}:{ACCOUNT}:{queue_name}"
    destination = await subscribe(standin, arn, "ORDER_CHANGE")
    assert destination["resource"] == {"sqs": {"arn": arn}}
    seller = await _token(standin, grant_type="refresh_token", refresh_token=standin.refresh_token)
    grantless = await _token(standin, grant_type="client_credentials", scope=SCOPE)
    async with httpx.AsyncClient(base_url=f"{standin.base_url}/notifications/v1") as http:
        as_seller = await http.get("/destinations", headers={"x-amz-access-token": seller})
        assert as_seller.status_code == 403
        listed = await http.get("/destinations", headers={"x-amz-access-token": grantless})
        assert listed.json() == {"payload": [destination]}
        again = await http.post(
            "/destinations",
            json={"name": "twice", "resourceSpecification": {"sqs": {"arn": arn}}},
            headers={"x-amz-access-token": grantless},
        )
        assert again.status_code == 409 and again.json()["errors"][0]["code"] == "Conflict"
        got = await http.get("/subscriptions/ORDER_CHANGE", headers={"x-amz-access-token": seller})
        assert got.status_code == 200
        assert got.json()["payload"]["destinationId"] == destination["destinationId"]
        missing = await http.get(
            "/subscriptions/FEED_PROCESSING_FINISHED", headers={"x-amz-access-token": seller}
        )
        assert missing.status_code == 404
    standin.notifications.sqs_endpoint = sqs_endpoint
    assert standin.notifications.queue_url("ORDER_CHANGE") == (
        f"{sqs_endpoint}/{ACCOUNT}/{queue_name}"
    )
    with pytest.raises(LookupError):
        standin.notifications.queue_url("FEED_PROCESSING_FINISHED")


async def test_an_order_change_delivered_twice_makes_one_update(
    make_standin: Callable[..., StandIn],
    spapi_ingest: RunningService,
    sqs_endpoint: str,
    queue_name: str,
) -> None:
    standin, order, now = await _order_changes_to(make_standin, sqs_endpoint, queue_name)
    await connect(spapi_ingest, standin, sync_from=now - timedelta(days=1))
    body = order_change(
        order,
        seller=standin.seller_id,
        subscription_id=standin.notifications.subscription_id("ORDER_CHANGE"),
    )
    await standin.notifications.publish(body)
    await standin.notifications.publish(body)  # SQS delivers at least once

    async with queue_of(sqs_endpoint, queue_name) as queue:
        handled = await drain(consumer_of(spapi_ingest, queue), 2)
        assert sorted(h.result for h in handled) == ["created", "duplicate"]
        assert all(h.deleted for h in handled)
        assert await queue.receive() == []
    events = await events_by_order(spapi_ingest, {order["orderId"]})
    assert [e.type for e in events[order["orderId"]]] == ["order.created"]
    assert len(standin.requests_of("getOrder2026", 200)) == 1


async def test_work_that_fails_leaves_the_message_for_redelivery(
    make_standin: Callable[..., StandIn],
    spapi_ingest: RunningService,
    sqs_endpoint: str,
    queue_name: str,
) -> None:
    standin, order, now = await _order_changes_to(make_standin, sqs_endpoint, queue_name)
    await connect(spapi_ingest, standin, sync_from=now - timedelta(days=1))
    standin.faults.append(Fault("getOrder2026", 503, times=50))
    await standin.notifications.publish(order_change(order, seller=standin.seller_id))

    async with queue_of(sqs_endpoint, queue_name, visibility=1) as queue:
        consumer = consumer_of(spapi_ingest, queue)
        [failed] = await drain(consumer, 1)
        assert (failed.result, failed.deleted) == ("kept", False)
        standin.faults.clear()
        await asyncio.sleep(1.2)
        [done] = await drain(consumer, 1)
        assert (done.result, done.deleted) == ("created", True)
        assert done.message_id == failed.message_id


async def test_a_malformed_message_is_quarantined_then_deleted(
    make_standin: Callable[..., StandIn],
    spapi_ingest: RunningService,
    sqs_endpoint: str,
    queue_name: str,
) -> None:
    standin = make_standin(scale=1000)
    standin.notifications.sqs_endpoint = sqs_endpoint
    await subscribe(standin, f"arn:aws:sqs:{REGION}:{ACCOUNT}:{queue_name}", "ORDER_CHANGE")
    marker = f"garbage-{uuid.uuid4()}"
    await standin.notifications.publish(f'{{"NotificationType": "ORDER_CHANGE", "x": "{marker}"')

    async with queue_of(sqs_endpoint, queue_name) as queue:
        [handled] = await drain(consumer_of(spapi_ingest, queue), 1)
        assert (handled.result, handled.deleted) == ("malformed", True)
    quarantine = orm.quarantine
    async with spapi_ingest.resources.sessions() as session:
        rows = (await session.execute(select(quarantine).where(quarantine.c.source == "sqs"))).all()
    pii = PIICipher(spapi_ingest.resources.settings.pii_key)
    opened = [
        (r, pii.open(EncryptedPII(key_id=pii.key_id, ciphertext=r.sealed_input))["input"])
        for r in rows
    ]
    mine = [r for r, text in opened if marker in text]
    assert len(mine) == 1 and "not JSON" in mine[0].reasons[0]["message"]


async def test_feed_processing_finished_reaches_its_handler_then_is_deleted(
    make_standin: Callable[..., StandIn],
    spapi_ingest: RunningService,
    sqs_endpoint: str,
    queue_name: str,
) -> None:
    standin = make_standin(scale=1000)
    standin.notifications.sqs_endpoint = sqs_endpoint
    arn = f"arn:aws:sqs:{REGION}:{ACCOUNT}:{queue_name}"
    await subscribe(standin, arn, "FEED_PROCESSING_FINISHED")
    body = feed_processing_finished(
        seller=standin.seller_id,
        feed_id="50012345",
        feed_type="POST_ORDER_ACKNOWLEDGEMENT_DATA",
        result_feed_document_id="amzn1.tortuga.4.na.report",
    )
    await standin.notifications.publish(body)
    seen: list[FeedFinished] = []

    async def on_feed_finished(notification: FeedFinished) -> None:
        seen.append(notification)

    async with queue_of(sqs_endpoint, queue_name) as queue:
        consumer = consumer_of(spapi_ingest, queue, on_feed_finished=on_feed_finished)
        [handled] = await drain(consumer, 1)
    assert (handled.result, handled.deleted) == ("feed_finished", True)
    [got] = seen
    assert got.envelope.payload.feedProcessingFinishedNotification.feedId == "50012345"


def _reading(
    settings: IngestSettings, sqs_endpoint: str, queue_name: str, **update: Any
) -> IngestSettings:
    """``settings`` of an ingest that reads the test's queue (long polls of 1 s)."""
    return settings.model_copy(
        update={
            "sqs_queue_url": f"{sqs_endpoint}/{ACCOUNT}/{queue_name}",
            "sqs_endpoint_url": sqs_endpoint,
            "sqs_access_key_id": "test",
            "sqs_secret_access_key": "test",
            "sqs_wait_seconds": 1,
            **update,
        }
    )


async def _order_changes_to(
    make_standin: Callable[..., StandIn], sqs_endpoint: str, queue_name: str
) -> tuple[StandIn, dict[str, Any], datetime]:
    """A stand-in that sends ORDER_CHANGE to the test's queue and holds one order (changed
    30 minutes ago); with it, the order and now."""
    standin = make_standin(scale=1000)
    standin.notifications.sqs_endpoint = sqs_endpoint
    await subscribe(standin, f"arn:aws:sqs:{REGION}:{ACCOUNT}:{queue_name}", "ORDER_CHANGE")
    now = datetime.now(UTC)
    order = v2026_order(created=now - timedelta(hours=1), updated=now - timedelta(minutes=30))
    standin.put(order)
    return standin, order, now


async def test_the_background_job_reads_the_queue_its_settings_name(
    make_standin: Callable[..., StandIn],
    spapi_settings: IngestSettings,
    sqs_endpoint: str,
    queue_name: str,
) -> None:
    settings = _reading(spapi_settings, sqs_endpoint, queue_name)
    standin, order, now = await _order_changes_to(make_standin, sqs_endpoint, queue_name)
    async with running_service(SPEC, settings, roles=("relay",)) as svc:
        await connect(svc, standin, sync_from=now - timedelta(days=1))
        job = asyncio.create_task(run_notifications(svc.resources))
        try:
            await standin.notifications.publish(order_change(order, seller=standin.seller_id))
            events = await events_by_order(svc, {order["orderId"]}, timeout=30)
            assert [e.type for e in events[order["orderId"]]] == ["order.created"]
            assert await _left_on(sqs_endpoint, queue_name) == 0  # deleted once taken
        finally:
            job.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await job


async def _left_on(sqs_endpoint: str, name: str) -> int:
    """Messages on the queue, visible or received and not yet deleted (after 5 s at most)."""
    creator = get_session().create_client(
        "sqs",
        region_name=REGION,
        endpoint_url=sqs_endpoint,
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )
    async with creator as client:
        for _ in range(50):
            got = await client.get_queue_attributes(
                QueueUrl=f"{sqs_endpoint}/{ACCOUNT}/{name}",
                AttributeNames=[
                    "ApproximateNumberOfMessages",
                    "ApproximateNumberOfMessagesNotVisible",
                ],
            )
            left = sum(int(v) for v in got["Attributes"].values())
            if left == 0:
                return 0
            await asyncio.sleep(0.1)
    return left


CRASHING_CONSUMER = """
import asyncio, os, signal
from ingest.amazon.adapters.sqs import NotificationQueue
from ingest.bootstrap import SPEC
from ingest.amazon.service_layer.sqs_notifications import run_notifications
from ingest.settings import IngestSettings
from shared.runtime import open_resources

async def _die(self, message):
    os.kill(os.getpid(), signal.SIGKILL)  # the work committed; the delete never happens

NotificationQueue.delete = _die

async def main():
    async with open_resources(SPEC, IngestSettings()) as resources:
        await run_notifications(resources)

asyncio.run(main())
"""


def _environment(settings: IngestSettings) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SQS_", "SPAPI_"))}
    for name, field in type(settings).model_fields.items():
        value = getattr(settings, name)
        if isinstance(field.validation_alias, str) and value is not None:
            env[field.validation_alias] = str(value)
    return env


async def test_a_consumer_killed_before_its_delete_still_takes_the_change_once(
    make_standin: Callable[..., StandIn],
    spapi_settings: IngestSettings,
    sqs_endpoint: str,
    queue_name: str,
) -> None:
    settings = _reading(spapi_settings, sqs_endpoint, queue_name, sqs_visibility_timeout_seconds=2)
    standin, order, now = await _order_changes_to(make_standin, sqs_endpoint, queue_name)
    async with running_service(SPEC, settings, roles=("relay",)) as svc:
        await connect(svc, standin, sync_from=now - timedelta(days=1))
        await standin.notifications.publish(order_change(order, seller=standin.seller_id))
        crashed = await asyncio.create_subprocess_exec(
            sys.executable, "-c", CRASHING_CONSUMER, env=_environment(settings)
        )
        assert await asyncio.wait_for(crashed.wait(), timeout=120) == -signal.SIGKILL
        assert len(standin.requests_of("getOrder2026", 200)) == 1  # it took the change
        job = asyncio.create_task(run_notifications(svc.resources))
        try:
            await asyncio.sleep(2.5)  # the visibility timeout: SQS delivers it again
            assert await _left_on(sqs_endpoint, queue_name) == 0
        finally:
            job.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await job
        events = await events_by_order(svc, {order["orderId"]})
    assert [e.type for e in events[order["orderId"]]] == ["order.created"]
    assert len(standin.requests_of("getOrder2026", 200)) == 1  # the repeat was a duplicate
