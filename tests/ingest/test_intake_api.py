"""POST /v1/orders on real PostgreSQL and Kafka: events out, repeats silent, bad input refused."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest
from sqlalchemy import event, text

from orderflow_testkit.harness import RunningService, eventually, read_topic
from orderflow_testkit.samples import amazon_order
from shared import topics
from shared.events.common import EncryptedPII
from shared.messaging.envelope import CloudEvent
from shared.pii import PIICipher

from .conftest import REFUSED_BY_POSTGRES, make_postgres_refuse

pytestmark = pytest.mark.integration

SELLER_KEY = {"Authorization": "Bearer seller-key"}


def _topic(svc: RunningService) -> str:
    return svc.resources.settings.topic(topics.ORDERS)


async def _events_of(svc: RunningService, order_id: str, count: int) -> list[CloudEvent]:
    records = await read_topic(
        svc.resources.settings.kafka_bootstrap_servers,
        _topic(svc),
        until=lambda rs: sum(r.key == order_id.encode() for r in rs) >= count,
        timeout=20,
    )
    return [CloudEvent.from_bytes(r.value) for r in records if r.key == order_id.encode()]


async def test_posted_order_comes_out_of_orders_v1_as_a_cloudevent(ingest: RunningService) -> None:
    order = amazon_order()
    response = await ingest.client.post("/v1/orders", json=order, headers=SELLER_KEY)
    assert response.status_code == 201, response.text
    assert response.json() == {
        "amazon_order_id": order["AmazonOrderId"],
        "result": "created",
        "version": 1,
    }

    records = await read_topic(
        ingest.resources.settings.kafka_bootstrap_servers,
        _topic(ingest),
        until=lambda rs: any(r.key == order["AmazonOrderId"].encode() for r in rs),
    )
    [record] = [r for r in records if r.key == order["AmazonOrderId"].encode()]
    event = CloudEvent.from_bytes(record.value)
    assert event.specversion == "1.0"
    assert event.type == "order.created"
    assert event.source == "ingest"
    assert event.subject == order["AmazonOrderId"]
    assert event.sellerid == "A2SELLER1EXAMPLE"
    assert event.aggregateversion == 1
    assert event.data["order_status"] == "Unshipped"
    assert event.data["order_total"] == {"amount": "39.98", "currency_code": "USD"}
    email = order["BuyerInfo"]["BuyerEmail"].encode()
    assert email not in record.value and b"1200 Elm Street" not in record.value
    sealed = event.data["buyer_pii"]
    opened = PIICipher(ingest.resources.settings.pii_key).open(EncryptedPII(**sealed))
    assert opened["buyer_email"] == order["BuyerInfo"]["BuyerEmail"]

    async def marked() -> list[Any] | None:  # the relay records where the event landed
        got = await ingest.client.get(f"/v1/orders/{order['AmazonOrderId']}", headers=SELLER_KEY)
        events = got.json()["events"]
        return events if all(e["sent_at"] for e in events) else None

    [published] = await eventually(marked)
    assert (published["partition"], published["offset"]) == (record.partition, record.offset)


async def test_repost_publishes_nothing_new_and_newer_update_bumps_version(
    ingest: RunningService,
) -> None:
    order = amazon_order()
    first = await ingest.client.post("/v1/orders", json=order, headers=SELLER_KEY)
    again = await ingest.client.post("/v1/orders", json=order, headers=SELLER_KEY)
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["result"] == "unchanged"

    older = dict(order, LastUpdateDate="2020-01-01T00:00:00Z")
    stale = await ingest.client.post("/v1/orders", json=older, headers=SELLER_KEY)
    assert stale.json()["result"] == "stale"

    later = datetime.now(UTC) + timedelta(minutes=1)
    shipped = dict(order, OrderStatus="Shipped", LastUpdateDate=later.isoformat())
    updated = await ingest.client.post("/v1/orders", json=shipped, headers=SELLER_KEY)
    assert updated.status_code == 200
    assert updated.json() == {
        "amazon_order_id": order["AmazonOrderId"],
        "result": "updated",
        "version": 2,
    }

    events = await _events_of(ingest, order["AmazonOrderId"], 2)
    assert [(e.type, e.aggregateversion) for e in events] == [
        ("order.created", 1),
        ("order.updated", 2),
    ]
    state = await ingest.client.get(f"/v1/orders/{order['AmazonOrderId']}", headers=SELLER_KEY)
    body = state.json()
    assert body["version"] == 2 and body["order_status"] == "Shipped"
    assert len(body["events"]) == 2


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        (b"{not json", 400, "body"),
        (orjson.dumps(amazon_order(amazon_order_id="12-345-6789")), 422, "AmazonOrderId"),
        (orjson.dumps(amazon_order(OrderStatus="Lost")), 422, "OrderStatus"),
        (
            orjson.dumps(amazon_order(OrderTotal={"CurrencyCode": "USD", "Amount": "12,50"})),
            422,
            "OrderTotal.Amount",
        ),
        (
            orjson.dumps(amazon_order(OrderTotal={"CurrencyCode": "USD", "Amount": 12.5})),
            422,
            "OrderTotal.Amount",
        ),
        (
            orjson.dumps(
                amazon_order(items=[{"ASIN": "B0", "OrderItemId": "1", "QuantityOrdered": -1}])
            ),
            422,
            "OrderItems.0.QuantityOrdered",
        ),
    ],
    ids=[
        "malformed-json",
        "order-id-format",
        "unknown-status",
        "money-comma",
        "money-float",
        "negative-quantity",
    ],
)
async def test_bad_input_gets_4xx_naming_the_field_and_lands_in_quarantine(
    ingest: RunningService, body: bytes, status: int, field: str
) -> None:
    response = await ingest.client.post(
        "/v1/orders", content=body, headers={**SELLER_KEY, "content-type": "application/json"}
    )
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert field in [e["field"] for e in problem["errors"]]

    quarantined = await ingest.client.get("/v1/quarantine", headers=SELLER_KEY)
    [latest, *_] = quarantined.json()["items"]
    assert field in [r["field"] for r in latest["reasons"]]
    assert latest["source"] == "api"


async def test_oversized_body_is_413(ingest: RunningService) -> None:
    huge = b"{" + b" " * 2_100_000 + b"}"
    response = await ingest.client.post(
        "/v1/orders", content=huge, headers={**SELLER_KEY, "content-type": "application/json"}
    )
    assert response.status_code == 413
    assert response.json()["title"] == "Payload Too Large"


async def test_a_single_order_takes_no_savepoint_and_one_postgres_refuses_is_refused_alone(
    ingest: RunningService,
) -> None:
    """A request's orders are all its transaction holds: no SAVEPOINT/RELEASE round trips on
    the way in. An order PostgreSQL will not store (here: a CHECK constraint refuses it; the
    input policy leaves none of its own) is still refused alone: 422, quarantined, nothing
    stored or published; the next request goes through."""
    await make_postgres_refuse(ingest)
    seen: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen.append(statement)

    engine = ingest.resources.engine.sync_engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        ok = await ingest.client.post("/v1/orders", json=amazon_order(), headers=SELLER_KEY)
    finally:
        event.remove(engine, "before_cursor_execute", record)
    assert ok.status_code == 201, ok.text
    assert any(s.startswith("INSERT INTO orders") for s in seen), seen
    assert not [s for s in seen if "SAVEPOINT" in s.upper()], seen

    refused = amazon_order(SellerOrderId=REFUSED_BY_POSTGRES)
    response = await ingest.client.post("/v1/orders", json=refused, headers=SELLER_KEY)
    assert response.status_code == 422, response.text
    assert "database refused" in response.json()["detail"]
    order_id = refused["AmazonOrderId"]
    gone = await ingest.client.get(f"/v1/orders/{order_id}", headers=SELLER_KEY)
    assert gone.status_code == 404
    quarantined = await ingest.client.get(
        "/v1/quarantine", params={"amazon_order_id": order_id}, headers=SELLER_KEY
    )
    assert quarantined.json()["items"], quarantined.text
    async with ingest.resources.engine.connect() as conn:
        outbox = await conn.execute(
            text("SELECT count(*) FROM outbox WHERE message_key = :k"), {"k": order_id}
        )
        assert outbox.scalar() == 0

    after = await ingest.client.post("/v1/orders", json=amazon_order(), headers=SELLER_KEY)
    assert after.status_code == 201, after.text
