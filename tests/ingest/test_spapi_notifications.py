"""POST /v1/notifications/sp-api: ORDER_CHANGE deduplicated on NotificationId, refreshed with
getOrder through the intake; push and pull of the same change make one event."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest
from spapi_standin.harness import SELLER_KEY, connect, events_by_order
from spapi_standin.orders import iso, v2026_order
from spapi_standin.server import Fault, StandIn

from ingest.amazon.service_layer.sync import poller_of
from orderflow_testkit.harness import RunningService
from shared.events.common import EncryptedPII
from shared.pii import PIICipher

pytestmark = pytest.mark.integration

SYS_KEY = {"Authorization": "Bearer sys-key"}


def order_change(
    order: dict[str, Any], *, seller: str, notification_id: str | None = None
) -> dict[str, Any]:
    """The SQS message body Amazon sends for ORDER_CHANGE."""
    return {
        "NotificationVersion": "1.0",
        "NotificationType": "ORDER_CHANGE",
        "PayloadVersion": "1.0",
        "EventTime": order["lastUpdatedTime"],
        "Payload": {
            "OrderChangeNotification": {
                "NotificationLevel": "OrderLevel",
                "SellerId": seller,
                "AmazonOrderId": order["orderId"],
                "OrderChangeType": "OrderStatusChange",
                "OrderChangeTrigger": {
                    "TimeOfOrderChange": order["lastUpdatedTime"],
                    "ChangeReason": "Order status changed",
                },
                "Summary": {
                    "MarketplaceId": "ATVPDKIKX0DER",
                    "OrderStatus": "Unshipped",
                    "PurchaseDate": order["createdTime"],
                    "DestinationPostalCode": "98101",
                    "FulfillmentType": "MFN",
                    "OrderType": "StandardOrder",
                    "NumberOfItemsShipped": 0,
                    "NumberOfItemsUnshipped": 2,
                    "OrderItems": [],
                },
            }
        },
        "NotificationMetadata": {
            "ApplicationId": "amzn1.sellerapps.app.standin",
            "SubscriptionId": str(uuid.uuid4()),
            "PublishTime": order["lastUpdatedTime"],
            "NotificationId": notification_id or str(uuid.uuid4()),
        },
    }


async def _post(
    svc: RunningService, body: dict[str, Any], headers: dict[str, str] = SYS_KEY
) -> Any:
    return await svc.client.post("/v1/notifications/sp-api", json=body, headers=headers)


async def test_notification_refreshes_the_order_once_and_repeats_do_nothing(
    make_standin: Callable[..., StandIn], spapi_ingest: RunningService
) -> None:
    standin = make_standin(scale=1000)
    now = datetime.now(UTC)
    order = v2026_order(created=now - timedelta(hours=1), updated=now - timedelta(minutes=30))
    standin.put(order)
    await connect(spapi_ingest, standin, sync_from=now - timedelta(days=1))
    body = order_change(order, seller=standin.seller_id)

    first = await _post(spapi_ingest, body)
    assert first.status_code == 200, first.text
    assert first.json() == {
        "notification_id": body["NotificationMetadata"]["NotificationId"],
        "amazon_order_id": order["orderId"],
        "result": "created",
        "version": 1,
    }
    again = await _post(spapi_ingest, body)
    assert again.status_code == 200 and again.json()["result"] == "duplicate"
    assert len(standin.requests_of("getOrder2026", 200)) == 1  # the repeat fetched nothing

    # Amazon changes the order: a new notification, a new version.
    shipped = order | {"lastUpdatedTime": iso(now - timedelta(minutes=5))}
    shipped["fulfillment"] = order["fulfillment"] | {"fulfillmentStatus": "SHIPPED"}
    standin.put(shipped)
    update = await _post(spapi_ingest, order_change(shipped, seller=standin.seller_id))
    assert update.json()["result"] == "updated" and update.json()["version"] == 2

    events = await events_by_order(spapi_ingest, {order["orderId"]})
    stored = await spapi_ingest.client.get(f"/v1/orders/{order['orderId']}", headers=SELLER_KEY)
    assert [e.type for e in events[order["orderId"]]] == ["order.created", "order.updated"]
    assert events[order["orderId"]][1].data["order_status"] == "Shipped"
    sealed = EncryptedPII(**events[order["orderId"]][0].data["buyer_pii"])
    assert (
        PIICipher(spapi_ingest.resources.settings.pii_key).open(sealed)["buyer_name"]
        == "Jane Buyer"
    )
    assert b"Jane Buyer" not in orjson.dumps(events[order["orderId"]][0].data)
    assert stored.json()["intake_source"] == "sp-api"


async def test_push_and_pull_of_the_same_change_make_one_event(
    make_standin: Callable[..., StandIn], spapi_ingest: RunningService
) -> None:
    standin = make_standin(scale=1000)
    now = datetime.now(UTC)
    pushed = v2026_order(created=now - timedelta(hours=2), updated=now - timedelta(minutes=20))
    pulled_first = v2026_order(
        created=now - timedelta(hours=2), updated=now - timedelta(minutes=25)
    )
    standin.put(pushed), standin.put(pulled_first)
    await connect(spapi_ingest, standin, sync_from=now - timedelta(days=1))

    # push first, then the poller reads the same change: unchanged, nothing published
    assert (await _post(spapi_ingest, order_change(pushed, seller=standin.seller_id))).json()[
        "result"
    ] == "created"
    poller = poller_of(spapi_ingest.resources)
    assert await poller.sync_once()
    # pull first (the poller already took this one), then the push arrives late: unchanged
    late = await _post(spapi_ingest, order_change(pulled_first, seller=standin.seller_id))
    assert (late.json()["result"], late.json()["version"]) == ("unchanged", 1)

    events = await events_by_order(spapi_ingest, {pushed["orderId"], pulled_first["orderId"]})
    assert {k: [e.type for e in v] for k, v in events.items()} == {
        pushed["orderId"]: ["order.created"],
        pulled_first["orderId"]: ["order.created"],
    }


async def test_unknown_seller_is_quarantined_and_refused(
    make_standin: Callable[..., StandIn], spapi_ingest: RunningService
) -> None:
    standin = make_standin(scale=1000)
    now = datetime.now(UTC)
    order = v2026_order(created=now, updated=now)
    answer = await _post(spapi_ingest, order_change(order, seller="A9UNKNOWNSELLER"))
    assert answer.status_code == 404
    assert "A9UNKNOWNSELLER" in answer.json()["detail"]
    quarantined = await spapi_ingest.client.get(
        "/v1/quarantine", params={"source": "sp-api"}, headers={"Authorization": "Bearer ops-key"}
    )
    [entry] = quarantined.json()["items"]
    assert entry["amazon_order_id"] == order["orderId"]
    assert entry["reasons"][0]["field"] == "Payload.OrderChangeNotification.SellerId"
    assert standin.requests_of("getOrder2026") == []


async def test_auth_validation_and_unavailable_sp_api(
    make_standin: Callable[..., StandIn], spapi_ingest: RunningService
) -> None:
    standin = make_standin(scale=1000)
    now = datetime.now(UTC)
    order = v2026_order(created=now, updated=now - timedelta(minutes=3))
    standin.put(order)
    await connect(spapi_ingest, standin, sync_from=now - timedelta(days=1))
    body = order_change(order, seller=standin.seller_id)
    assert (await _post(spapi_ingest, body, SELLER_KEY)).status_code == 403
    broken = body | {"NotificationType": "ANY_OFFER_CHANGED"}
    bad = await _post(spapi_ingest, broken)
    assert bad.status_code == 422
    assert any("NotificationType" in e["field"] for e in bad.json()["errors"])

    standin.faults.append(Fault("getOrder2026", 503))
    down = await _post(spapi_ingest, body)
    assert down.status_code == 503
    standin.faults[:] = [Fault("getOrder2026", 400, times=1)]
    refused = await _post(spapi_ingest, body)
    assert refused.status_code == 503 and "refused getOrder" in refused.json()["detail"]
    standin.faults.clear()
    # nothing was recorded: the forwarder's retry is taken, not called a duplicate
    retried = await _post(spapi_ingest, body)
    assert retried.json()["result"] == "created"
