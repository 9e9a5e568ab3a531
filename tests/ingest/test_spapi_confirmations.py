"""Shipment confirmations pushed back to Amazon: fulfillment.v1 shipments become
confirmShipment calls to the seller's SP-API connection (here the stand-in), exactly once,
within Amazon's rate, retried when transient, failed (and retryable) when refused."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from spapi_standin import Fault, StandIn
from spapi_standin.harness import SELLER_KEY, connect
from sqlalchemy import select

from fulfillment.bootstrap import SPEC as FULFILLMENT
from fulfillment.settings import FulfillmentSettings
from ingest.bootstrap import SPEC
from ingest.settings import IngestSettings
from orderflow_testkit.harness import RunningService, eventually, running_service
from orderflow_testkit.samples import amazon_order, iso, order_id
from shared import topics
from shared.events.fulfillment import SHIPMENT_CONFIRMED, SHIPMENT_UPDATED, ItemQuantity, Shipment
from shared.events.registry import build_event
from shared.messaging.decoding import Message
from shared.messaging.envelope import CloudEvent

PII_KEY = "n_BqP4SNyVeTHYn4Gjx04lJgXmwo1DbEEpWiUaOM2Qs="
SELLER = "A2SELLER1EXAMPLE"
OTHER_SELLER = "A3SELLER2EXAMPLE"
KEYS = f"sys-key=system,ops-key=ops,seller-key=seller:{SELLER},other-key=seller:{OTHER_SELLER}"

pytestmark = pytest.mark.integration

OPS = {"Authorization": "Bearer ops-key"}
OTHER = {"Authorization": "Bearer other-key"}
OP = "confirmShipment"


def shipment_event(
    oid: str,
    *,
    shipment_id: str | None = None,
    version: int = 2,
    tracking: str = "1Z999AA10123456784",
    carrier: str = "UPS",
    channel: str = "MFN",
    seller: str = SELLER,
    event_type: str = SHIPMENT_CONFIRMED,
) -> CloudEvent:
    payload = Shipment(
        amazon_order_id=oid,
        seller_id=seller,
        marketplace_id="ATVPDKIKX0DER",
        fulfillment_channel=channel,
        order_status="Shipped",
        shipment_id=shipment_id or str(uuid.uuid4()),
        carrier_code=carrier,
        carrier_name=None,
        ship_method="Ground",
        tracking_number=tracking,
        ship_date=datetime.now(UTC) - timedelta(minutes=5),
        items=(ItemQuantity(order_item_id=f"{oid[-7:]}0001", quantity=2),),
        on_time=True,
        valid_tracking=True,
    )
    return build_event(
        topic=topics.FULFILLMENT,
        event_type=event_type,
        payload=payload,
        source="fulfillment",
        subject=oid,
        seller_id=seller,
        version=version,
    )


async def deliver(svc: RunningService, event: CloudEvent) -> bool:
    """Apply one fulfillment.v1 event as ingest's consumer would (inbox + handler, one
    transaction); False when this event id was applied already."""
    message = Message(
        svc.resources.settings.topic(topics.FULFILLMENT), 0, 0, event.subject, event.to_bytes()
    )
    async with svc.resources.sessions() as session, session.begin():
        return await svc.resources.applier.apply(session, message)


async def listed(svc: RunningService, headers: dict[str, str], **params: Any) -> list[Any]:
    response = await svc.client.get(
        "/v1/amazon/shipment-confirmations", params=params, headers=headers
    )
    assert response.status_code == 200, response.text
    items: list[Any] = response.json()["items"]
    return items


async def one_with(svc: RunningService, oid: str, status: str) -> dict[str, Any]:
    async def found() -> dict[str, Any] | None:
        items = await listed(svc, OPS, amazon_order_id=oid, status=status)
        return items[0] if items else None

    row: dict[str, Any] = await eventually(found, timeout=15)
    return row


async def announced(svc: RunningService, oid: str) -> list[CloudEvent]:
    """What ingest queued on orders.v1 about Amazon's answers for one order."""
    outbox = svc.resources.tables.outbox
    stmt = select(outbox.c.payload).where(outbox.c.message_key == oid).order_by(outbox.c.id)
    async with svc.resources.sessions() as session:
        rows = (await session.execute(stmt)).scalars().all()
    events = [CloudEvent.from_bytes(r) for r in rows]
    return [e for e in events if e.type.startswith("shipment.amazon")]


def accepted(standin: StandIn, oid: str) -> list[dict[str, Any]]:
    return standin.confirmations_of(oid)


@pytest.fixture
def confirm_settings(spapi_settings: IngestSettings) -> IngestSettings:
    return spapi_settings.model_copy(update={"spapi_poller_enabled": False})


@pytest.fixture
async def sender_ingest(confirm_settings: IngestSettings) -> AsyncIterator[RunningService]:
    """Ingest with its relay and background jobs (the sender); events come via ``deliver``."""
    async with running_service(SPEC, confirm_settings, roles=("relay", "background")) as svc:
        yield svc


async def test_transient_errors_are_retried_then_sent_once(
    sender_ingest: RunningService, make_standin: Callable[..., StandIn]
) -> None:
    standin = make_standin(scale=1000)
    await connect(sender_ingest, standin, sync_from=datetime.now(UTC) - timedelta(hours=1))
    # 4 x 503: more than one send's 3 attempts, so the row waits for next_attempt_at once.
    standin.faults.append(Fault(OP, 503, times=4))
    first = order_id()
    assert await deliver(sender_ingest, shipment_event(first))
    row = await one_with(sender_ingest, first, "sent")
    assert row["attempts"] == 2
    assert len(accepted(standin, first)) == 1
    assert [r.status for r in standin.requests_of(OP)] == [503, 503, 503, 503, 204]

    standin.faults[:] = [Fault(OP, 429, times=2, headers={"Retry-After": "0.05"})]
    second = order_id()
    assert await deliver(sender_ingest, shipment_event(second))
    row = await one_with(sender_ingest, second, "sent")
    assert row["attempts"] == 1 and row["last_error"] is None
    assert len(accepted(standin, second)) == 1
    assert [r.status for r in standin.requests_of(OP)][-3:] == [429, 429, 204]
    [event] = await eventually(lambda: announced(sender_ingest, second), timeout=10)
    assert event.type == "shipment.amazon_confirmed"
    assert event.data["status"] == "sent" and event.data["fulfillment_version"] == 2


async def test_burst_obeys_amazons_bucket(
    spapi_settings: IngestSettings, make_standin: Callable[..., StandIn]
) -> None:
    """40 confirmations at once: 10 (burst) at once, then 2/s (x10 here), no 429."""
    settings = spapi_settings.model_copy(
        update={"spapi_poller_enabled": False, "spapi_rate_scale": 10.0}
    )
    standin = make_standin(scale=10)
    async with running_service(SPEC, settings, roles=("background",)) as svc:
        await connect(svc, standin, sync_from=datetime.now(UTC) - timedelta(hours=1))
        oids = [order_id() for _ in range(40)]
        for oid in oids:
            assert await deliver(svc, shipment_event(oid))

        async def all_sent() -> bool:
            return len(await listed(svc, OPS, status="sent", limit=100)) == 40

        await eventually(all_sent, timeout=20)
    assert all(len(accepted(standin, oid)) == 1 for oid in oids)
    served = [r.at for r in standin.requests_of(OP, 204)]
    assert len(served) == 40
    # The client paces itself by its own copy of the bucket: every attempt (refused or not)
    # stays within burst + rate x elapsed, give or take the one or two that Amazon's bucket,
    # started a few ms after ours (LWA token fetch), refuses; those wait and are resent.
    assert len(standin.requests_of(OP, 429)) <= 2
    assert _excess([r.at for r in standin.requests_of(OP)], rate=20.0, burst=10) <= 2
    assert standin.max_excess(OP) < 1  # never one request more than the plan (timing noise aside)
    assert served[-1] - served[0] >= (40 - 10) / 20 * 0.9  # 20/s after the burst of 10


def _excess(times: list[float], *, rate: float, burst: int) -> float:
    worst = float("-inf")
    for i in range(len(times)):
        for j in range(i, len(times)):
            worst = max(worst, (j - i + 1) - (burst + rate * (times[j] - times[i])))
    return worst


async def test_permanent_refusal_fails_is_listed_and_retry_resends(
    sender_ingest: RunningService, make_standin: Callable[..., StandIn]
) -> None:
    standin = make_standin(scale=1000)
    await connect(sender_ingest, standin, sync_from=datetime.now(UTC) - timedelta(hours=1))
    message = "Value XYZ for carrierCode is not valid"
    standin.faults.append(Fault(OP, 400, times=1, code="InvalidInput", message=message))
    oid = order_id()
    assert await deliver(sender_ingest, shipment_event(oid))
    failed = await one_with(sender_ingest, oid, "failed")
    assert failed["last_error"] == f"HTTP 400: InvalidInput: {message}"
    assert failed["attempts"] == 1
    assert accepted(standin, oid) == []
    assert len(standin.requests_of(OP)) == 1  # not retried on its own

    # listed for operators and for the seller, not for another seller
    assert [r["id"] for r in await listed(sender_ingest, OPS, status="failed")] == [failed["id"]]
    assert [r["id"] for r in await listed(sender_ingest, SELLER_KEY, status="failed")] == [
        failed["id"]
    ]
    assert await listed(sender_ingest, OTHER, status="failed") == []
    url = f"/v1/amazon/shipment-confirmations/{failed['id']}/retry"
    assert (await sender_ingest.client.post(url, headers=OTHER)).status_code == 404
    [event] = await eventually(lambda: announced(sender_ingest, oid), timeout=10)
    assert event.type == "shipment.amazon_confirmation_failed"
    assert message in event.data["error"]

    retried = await sender_ingest.client.post(url, headers=OPS)
    assert retried.status_code == 200, retried.text
    assert retried.json()["status"] == "pending"
    sent = await one_with(sender_ingest, oid, "sent")
    assert sent["id"] == failed["id"]
    assert len(accepted(standin, oid)) == 1
    again = await sender_ingest.client.post(url, headers=SELLER_KEY)
    assert again.status_code == 409  # only a failed confirmation is retried
    types = [e.type for e in await eventually(lambda: _two(sender_ingest, oid), timeout=10)]
    assert types == ["shipment.amazon_confirmation_failed", "shipment.amazon_confirmed"]


async def _two(svc: RunningService, oid: str) -> list[CloudEvent] | None:
    events = await announced(svc, oid)
    return events if len(events) == 2 else None


async def test_redelivered_event_is_sent_once(
    sender_ingest: RunningService, make_standin: Callable[..., StandIn]
) -> None:
    standin = make_standin(scale=1000)
    await connect(sender_ingest, standin, sync_from=datetime.now(UTC) - timedelta(hours=1))
    oid, shipment = order_id(), str(uuid.uuid4())
    event = shipment_event(oid, shipment_id=shipment)
    assert await deliver(sender_ingest, event)
    assert not await deliver(sender_ingest, event)  # the inbox: same event id
    # the same shipment version under another event id (a producer retry): the unique key
    assert await deliver(sender_ingest, shipment_event(oid, shipment_id=shipment))
    await one_with(sender_ingest, oid, "sent")
    # a new tracking number is a new fulfillment version: sent again (Amazon edits the package)
    newer = shipment_event(
        oid,
        shipment_id=shipment,
        version=3,
        tracking="1Z999AA10123456791",
        event_type=SHIPMENT_UPDATED,
    )
    assert await deliver(sender_ingest, newer)

    async def both() -> list[dict[str, Any]] | None:
        bodies = accepted(standin, oid)
        return bodies if len(bodies) == 2 else None

    bodies = await eventually(both, timeout=15)
    assert [b["packageDetail"]["trackingNumber"] for b in bodies] == [
        "1Z999AA10123456784",
        "1Z999AA10123456791",
    ]
    assert {b["packageDetail"]["packageReferenceId"] for b in bodies} == {shipment}
    assert len(await listed(sender_ingest, OPS, amazon_order_id=oid)) == 2


async def test_fba_and_unconnected_sellers_are_skipped(
    sender_ingest: RunningService, make_standin: Callable[..., StandIn]
) -> None:
    standin = make_standin(scale=1000)
    await connect(sender_ingest, standin, sync_from=datetime.now(UTC) - timedelta(hours=1))
    fba, unconnected = order_id(), order_id()
    assert await deliver(sender_ingest, shipment_event(fba, channel="AFN"))
    assert await deliver(sender_ingest, shipment_event(unconnected, seller=OTHER_SELLER))
    [a] = await listed(sender_ingest, OPS, amazon_order_id=fba)
    [b] = await listed(sender_ingest, OPS, amazon_order_id=unconnected)
    assert a["status"] == b["status"] == "skipped"
    assert "Fulfilled by Amazon" in a["last_error"]
    assert f"{OTHER_SELLER} has no active SP-API connection" in b["last_error"]
    assert [r["id"] for r in await listed(sender_ingest, OTHER, status="skipped")] == [b["id"]]
    # a sending pass later, still nothing went to Amazon
    control = order_id()
    assert await deliver(sender_ingest, shipment_event(control))
    await one_with(sender_ingest, control, "sent")
    assert [oid for oid, _ in standin.confirmations] == [control]
    skipped_retry = await sender_ingest.client.post(
        f"/v1/amazon/shipment-confirmations/{a['id']}/retry", headers=OPS
    )
    assert skipped_retry.status_code == 409


# -- end to end: ingest and fulfillment through Kafka --------------------------------------------


@pytest.fixture
async def ingest_fulfillment_amazon(
    confirm_settings: IngestSettings,
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
    async with (
        running_service(SPEC, confirm_settings, roles=("worker", "relay", "background")) as ingest,
        running_service(FULFILLMENT, fulfillment_settings, roles=("worker", "relay")) as ful,
    ):
        yield ingest, ful


@pytest.mark.e2e
async def test_shipment_confirmed_in_fulfillment_reaches_amazon_once(
    ingest_fulfillment_amazon: tuple[RunningService, RunningService],
    make_standin: Callable[..., StandIn],
) -> None:
    ingest, fulfillment = ingest_fulfillment_amazon
    standin = make_standin(scale=1000)
    await connect(ingest, standin, sync_from=datetime.now(UTC) - timedelta(hours=1))
    order = amazon_order()
    oid = order["AmazonOrderId"]
    posted = await ingest.client.post("/v1/orders", json=order, headers=SELLER_KEY)
    assert posted.status_code == 201, posted.text

    async def in_fulfillment() -> bool:
        got = await fulfillment.client.get(f"/v1/orders/{oid}", headers=SELLER_KEY)
        return got.status_code == 200

    await eventually(in_fulfillment, timeout=20)
    shipped = await fulfillment.client.post(
        f"/v1/orders/{oid}/shipments",
        json={
            "carrier_code": "UPS",
            "tracking_number": "1Z999AA10123456784",
            "ship_date": iso(datetime.now(UTC)),
        },
        headers=SELLER_KEY,
    )
    assert shipped.status_code == 201, shipped.text
    shipment_id = shipped.json()["shipment_id"]

    async def confirmed_in_fulfillment() -> dict[str, Any] | None:
        got = (await fulfillment.client.get(f"/v1/orders/{oid}", headers=SELLER_KEY)).json()
        answer: dict[str, Any] | None = got["shipments"][0]["amazon_confirmation"]
        return answer

    answer = await eventually(confirmed_in_fulfillment, timeout=30)
    assert answer["status"] == "sent" and answer["error"] is None
    [body] = accepted(standin, oid)
    package = body["packageDetail"]
    assert body["marketplaceId"] == "ATVPDKIKX0DER"
    assert package["carrierCode"] == "UPS"
    assert package["trackingNumber"] == "1Z999AA10123456784"
    assert package["packageReferenceId"] == shipment_id
    item_ids = [i["OrderItemId"] for i in order["OrderItems"]]
    assert [i["orderItemId"] for i in package["orderItems"]] == item_ids
    await one_with(ingest, oid, "sent")
    assert len(accepted(standin, oid)) == 1  # exactly once

    detail = (await ingest.client.get(f"/v1/orders/{oid}", headers=SELLER_KEY)).json()
    [pushed] = detail["amazon_shipment_confirmations"]
    assert pushed["status"] == "sent" and pushed["shipment_id"] == shipment_id
    assert pushed["event_type"] == "shipment.confirmed"
