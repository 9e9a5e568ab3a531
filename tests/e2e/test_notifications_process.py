"""The ``notifications`` role as real processes: a connection subscribed over the API, an
ORDER_CHANGE the stand-in delivers to ElasticMQ, and a ``python -m ingest notifications``
killed with SIGKILL after its work committed and before its delete. The message comes back
after its visibility timeout, and the next ``notifications`` process takes it as a duplicate:
the order is fetched from Amazon once. The role answers ``/readyz`` on its ``OPS_PORT``."""

from __future__ import annotations

import asyncio
import secrets
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from aiobotocore.session import get_session

from orderflow_testkit.harness import eventually

from .conftest import ServiceProcess, free_port

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from spapi_standin.harness import connection_body
from spapi_standin.notifications import order_change
from spapi_standin.orders import v2026_order
from spapi_standin.server import StandIn, running_standin

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]

SELLER = {"Authorization": "Bearer k-seller"}
REGION = "us-east-1"

# ``python -m ingest notifications`` whose SQS delete kills the process: the work is committed
# and the message stays on the queue, as when a pod is killed at the worst moment.
KILLED_BEFORE_DELETE = """
import os, signal
from ingest.__main__ import SPEC, IngestSettings
from ingest.amazon.adapters.sqs import NotificationQueue
from shared.runtime import main

async def _die(self, message):
    os.kill(os.getpid(), signal.SIGKILL)

NotificationQueue.delete = _die
main(SPEC, IngestSettings, ["notifications"])
"""


@pytest.fixture
def standin() -> Iterator[StandIn]:
    with running_standin(StandIn(seller_id="A2SELLER1EXAMPLE", scale=1000)) as running:
        yield running


@pytest.fixture
async def queue_url(sqs_endpoint: str) -> AsyncIterator[str]:
    creator = get_session().create_client(
        "sqs",
        region_name=REGION,
        endpoint_url=sqs_endpoint,
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )
    async with creator as client:
        url = (await client.create_queue(QueueName=f"role-{secrets.token_hex(6)}"))["QueueUrl"]
        yield str(url)
        await client.delete_queue(QueueUrl=url)


async def _left_on(sqs_endpoint: str, queue_url: str) -> int:
    creator = get_session().create_client(
        "sqs",
        region_name=REGION,
        endpoint_url=sqs_endpoint,
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )
    async with creator as client:
        got = await client.get_queue_attributes(
            QueueUrl=queue_url,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )
    return sum(int(v) for v in got["Attributes"].values())


async def test_the_notifications_role_takes_a_change_once_though_killed_before_its_delete(
    start_service: Callable[..., ServiceProcess],
    standin: StandIn,
    sqs_endpoint: str,
    queue_url: str,
) -> None:
    standin.notifications.sqs_endpoint = sqs_endpoint
    sqs = {
        "SQS_QUEUE_URL": queue_url,
        "SQS_ENDPOINT_URL": sqs_endpoint,
        "SQS_REGION": REGION,
        "SQS_ACCESS_KEY_ID": "test",
        "SQS_SECRET_ACCESS_KEY": "test",
        "SQS_WAIT_SECONDS": "1",
        "SQS_VISIBILITY_TIMEOUT_SECONDS": "2",
    }
    api = start_service("ingest", "api", **sqs)
    now = datetime.now(UTC)
    first, second = (
        v2026_order(created=now - timedelta(hours=1), updated=now - timedelta(minutes=m))
        for m in (30, 20)
    )
    standin.put(first)
    standin.put(second)
    async with httpx.AsyncClient(base_url=api.url, timeout=30, headers=SELLER) as client:
        body = connection_body(standin, sync_from=now - timedelta(days=1))
        created = await client.post("/v1/connections", json=body)
        assert created.status_code == 201, created.text
        subscribed = await client.post(f"/v1/connections/{created.json()['id']}/subscriptions")
        assert subscribed.status_code == 200, subscribed.text
        await standin.notifications.publish(order_change(first, seller=standin.seller_id))

        env = {**api.env, "OPS_PORT": str(free_port())}
        env.pop("HTTP_PORT", None)
        killed = await asyncio.to_thread(
            subprocess.run,
            [sys.executable, "-c", KILLED_BEFORE_DELETE],
            env=env,
            capture_output=True,
            timeout=120,
        )
        assert killed.returncode == -signal.SIGKILL, killed.stderr.decode()[-3000:]
        assert len(standin.requests_of("getOrder2026", 200)) == 1  # it took the change

        role = start_service("ingest", "notifications", database_url=api.env["DATABASE_URL"], **sqs)
        ready = await client.get(f"{role.url}/readyz")
        assert ready.status_code == 200, ready.text
        await standin.notifications.publish(order_change(second, seller=standin.seller_id))

        async def both_taken() -> bool:
            for order in (first, second):
                if (await client.get(f"/v1/orders/{order['orderId']}")).status_code != 200:
                    return False
            return await _left_on(sqs_endpoint, queue_url) == 0

        assert await eventually(both_taken, timeout=60)
    # The redelivered first change was a duplicate: Amazon was asked once per order.
    assert len(standin.requests_of("getOrder2026", 200)) == 2
