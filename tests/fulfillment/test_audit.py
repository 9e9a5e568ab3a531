"""The audit trail on fulfillment, against real PostgreSQL (docs/audit.md).

Each change made through the API is one entry, written in the change's own transaction, with
the key's name, role and seller, the operation, the order and its status before and after,
the correlation id and the outcome; a refused request leaves none. A seller reads only its own
entries; the list pages by cursor and filters by resource and time; the table refuses UPDATE,
DELETE and TRUNCATE; the events a change causes name its actor.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from orderflow_testkit.harness import RunningService
from tests.fulfillment.conftest import (
    AS_OPS,
    AS_OTHER,
    AS_SELLER,
    OTHER_SELLER,
    SELLER,
    apply,
    outbox_events,
    snapshot,
)

pytestmark = pytest.mark.integration

UPS = "1Z999AA10123456784"
AS_SYSTEM_FOR_SELLER = {"Authorization": "Bearer sys-key", "X-Seller-Id": SELLER}


async def _order(svc: RunningService, seller: str = SELLER) -> tuple[str, str]:
    snap = snapshot(seller_id=seller)
    assert await apply(svc, snap)
    return snap.amazon_order_id, snap.items[0].order_item_id


async def _ship(svc: RunningService, oid: str, headers: dict[str, str]) -> Any:
    body = {"carrier_code": "UPS", "tracking_number": UPS, "ship_date": datetime.now(UTC)}
    return await svc.client.post(
        f"/v1/orders/{oid}/shipments",
        json={**body, "ship_date": body["ship_date"].isoformat()},
        headers=headers,
    )


async def _trail(svc: RunningService, headers: dict[str, str], **params: Any) -> list[Any]:
    response = await svc.client.get("/v1/audit", params=params, headers=headers)
    assert response.status_code == 200, response.text
    items: list[Any] = response.json()["items"]
    return items


async def test_each_change_is_one_entry_with_who_what_and_how_it_ended(
    fulfillment: RunningService,
) -> None:
    oid, _ = await _order(fulfillment)
    shipped = await _ship(fulfillment, oid, AS_SELLER)
    assert shipped.status_code == 201, shipped.text
    refunded = await fulfillment.client.post(
        f"/v1/orders/{oid}/refunds", json={"reason": "GeneralAdjustment"}, headers=AS_SELLER
    )
    assert refunded.status_code == 201, refunded.text

    refund, shipment = await _trail(fulfillment, AS_SELLER)
    assert shipment["correlation_id"] == shipped.headers["x-correlation-id"]
    assert refund["correlation_id"] == refunded.headers["x-correlation-id"]
    assert {
        k: shipment[k]
        for k in (
            "key_name",
            "role",
            "seller_id",
            "operation",
            "method",
            "path",
            "resource_type",
            "resource_id",
            "status_before",
            "status_after",
            "outcome",
            "status_code",
        )
    } == {
        "key_name": "sell…",
        "role": "seller",
        "seller_id": SELLER,
        "operation": "confirm_shipment",
        "method": "POST",
        "path": "/v1/orders/{amazon_order_id}/shipments",
        "resource_type": "order",
        "resource_id": oid,
        "status_before": "Unshipped",
        "status_after": "Shipped",
        "outcome": "ok",
        "status_code": 201,
    }
    assert (refund["operation"], refund["status_before"], refund["status_after"]) == (
        "issue_refund",
        "Shipped",
        "Shipped",
    )
    assert shipment["at"] <= refund["at"]


async def test_a_refused_request_leaves_no_entry_and_a_system_key_is_recorded_for_its_seller(
    fulfillment: RunningService,
) -> None:
    oid, _ = await _order(fulfillment)
    refused = await fulfillment.client.post(
        f"/v1/orders/{oid}/refunds", json={"reason": "GeneralAdjustment"}, headers=AS_SELLER
    )
    assert refused.status_code == 409, refused.text  # not shipped yet: nothing changed
    unknown = await _ship(fulfillment, "111-0000000-0000009", AS_SELLER)
    assert unknown.status_code == 404
    assert await _trail(fulfillment, AS_OPS) == []

    assert (await _ship(fulfillment, oid, AS_SYSTEM_FOR_SELLER)).status_code == 201
    [entry] = await _trail(fulfillment, AS_SELLER)
    assert (entry["key_name"], entry["role"], entry["seller_id"]) == ("sys-…", "system", SELLER)


async def test_a_seller_reads_only_its_own_entries(fulfillment: RunningService) -> None:
    mine, _ = await _order(fulfillment)
    theirs, _ = await _order(fulfillment, OTHER_SELLER)
    assert (await _ship(fulfillment, mine, AS_SELLER)).status_code == 201
    assert (await _ship(fulfillment, theirs, AS_OTHER)).status_code == 201

    assert [e["resource_id"] for e in await _trail(fulfillment, AS_SELLER)] == [mine]
    assert [e["resource_id"] for e in await _trail(fulfillment, AS_OTHER)] == [theirs]
    # Another seller's order id as a filter answers as an id nobody has: nothing.
    assert await _trail(fulfillment, AS_OTHER, resource_id=mine) == []
    narrowed = {**AS_OPS, "X-Seller-Id": OTHER_SELLER}
    assert [e["resource_id"] for e in await _trail(fulfillment, narrowed)] == [theirs]
    assert {e["resource_id"] for e in await _trail(fulfillment, AS_OPS)} == {mine, theirs}
    spoofed = await fulfillment.client.get("/v1/audit", headers={**AS_OTHER, "X-Seller-Id": SELLER})
    assert spoofed.status_code == 403


async def test_the_trail_pages_by_cursor_and_filters_by_resource_and_time(
    fulfillment: RunningService,
) -> None:
    orders = [(await _order(fulfillment))[0] for _ in range(3)]
    start = datetime.now(UTC) - timedelta(seconds=1)
    for oid in orders:
        assert (await _ship(fulfillment, oid, AS_SELLER)).status_code == 201

    seen: list[str] = []
    cursor: str | None = None
    while True:
        params: dict[str, Any] = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = (await fulfillment.client.get("/v1/audit", params=params, headers=AS_SELLER)).json()
        seen += [e["resource_id"] for e in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == orders[::-1]  # newest first, each once

    assert [
        e["resource_id"] for e in await _trail(fulfillment, AS_SELLER, resource_id=orders[1])
    ] == [orders[1]]
    assert len(await _trail(fulfillment, AS_SELLER, resource_type="order")) == 3
    assert await _trail(fulfillment, AS_SELLER, resource_type="claim") == []
    later = (datetime.now(UTC) + timedelta(minutes=1)).isoformat()
    assert len(await _trail(fulfillment, AS_SELLER, since=start.isoformat())) == 3
    assert await _trail(fulfillment, AS_SELLER, since=later) == []
    assert await _trail(fulfillment, AS_SELLER, until=start.isoformat()) == []

    for bad in ({"cursor": "not-a-cursor"}, {"since": later, "until": start.isoformat()}):
        response = await fulfillment.client.get("/v1/audit", params=bad, headers=AS_SELLER)
        assert response.status_code in (400, 422), response.text
        assert response.headers["content-type"].startswith("application/problem+json")


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit_log SET key_name = 'someone else'",
        "DELETE FROM audit_log",
        "TRUNCATE audit_log",
    ],
)
async def test_the_database_refuses_to_change_or_remove_an_entry(
    fulfillment: RunningService, statement: str
) -> None:
    oid, _ = await _order(fulfillment)
    assert (await _ship(fulfillment, oid, AS_SELLER)).status_code == 201
    with pytest.raises(DBAPIError, match="append-only"):
        async with fulfillment.resources.sessions() as session, session.begin():
            await session.execute(text(statement))
    [entry] = await _trail(fulfillment, AS_SELLER)
    assert entry["key_name"] == "sell…"


async def test_the_events_of_an_api_change_name_its_actor(fulfillment: RunningService) -> None:
    oid, _ = await _order(fulfillment)  # applied as the consumer applies orders.v1
    before = await outbox_events(fulfillment, oid)
    shipped = await _ship(fulfillment, oid, AS_SELLER)
    assert shipped.status_code == 201
    caused = (await outbox_events(fulfillment, oid))[len(before) :]
    assert caused
    for event in caused:
        assert (event.actorkey, event.actorrole, event.actorsellerid) == ("sell…", "seller", SELLER)
        assert event.correlationid == shipped.headers["x-correlation-id"]


async def test_an_idempotency_keys_own_transactions_carry_no_entry(
    fulfillment: RunningService,
) -> None:
    """The key's claim commits before the work: a refused keyed request has no entry, a keyed
    change one, and its replay none more."""
    oid, _ = await _order(fulfillment)
    refund = {"reason": "GeneralAdjustment"}
    keyed = {**AS_SELLER, "Idempotency-Key": "refund-before-shipping"}
    refused = await fulfillment.client.post(f"/v1/orders/{oid}/refunds", json=refund, headers=keyed)
    assert refused.status_code == 409, refused.text
    assert await _trail(fulfillment, AS_OPS) == []

    assert (await _ship(fulfillment, oid, AS_SELLER)).status_code == 201
    keyed = {**AS_SELLER, "Idempotency-Key": "refund-once"}
    for _ in range(2):
        done = await fulfillment.client.post(
            f"/v1/orders/{oid}/refunds", json=refund, headers=keyed
        )
        assert done.status_code == 201, done.text
    assert done.headers["idempotent-replayed"] == "true"
    operations = [e["operation"] for e in await _trail(fulfillment, AS_OPS)]
    assert operations == ["issue_refund", "confirm_shipment"]
