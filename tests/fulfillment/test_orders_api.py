"""Snapshots applied idempotently and newest-first; the Manage Orders search and order view."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from fulfillment.domain.search import LocalMidnight
from orderflow_testkit.harness import RunningService
from shared import topics
from shared.messaging.decoding import Message
from tests.fulfillment.conftest import (
    AS_OPS,
    AS_OTHER,
    AS_SELLER,
    OTHER_SELLER,
    apply,
    event_of,
    outbox_events,
    snapshot,
)

US, JP = "ATVPDKIKX0DER", "A1VC38T7YXB528"

pytestmark = pytest.mark.integration


async def _get(svc: RunningService, oid: str, headers: dict[str, str] = AS_SELLER) -> dict:  # type: ignore[type-arg]
    response = await svc.client.get(f"/v1/orders/{oid}", headers=headers)
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


async def test_snapshot_applies_once_and_only_when_newer(fulfillment: RunningService) -> None:
    v1 = snapshot(status="Pending", version=1)
    v2 = snapshot(amazon_order_id=v1.amazon_order_id, status="Unshipped", version=2)
    v3 = snapshot(
        amazon_order_id=v1.amazon_order_id,
        status="Unshipped",
        version=3,
        ship_service_level="Expedited",
    )
    e3 = event_of(v3)
    assert await apply(fulfillment, e3)
    assert await apply(fulfillment, v1)  # older, arrives late: dropped
    assert await apply(fulfillment, e3)  # same event again: stale by its version (no inbox)
    assert await apply(fulfillment, v2)  # older than v3: dropped

    order = await _get(fulfillment, v1.amazon_order_id)
    assert order["status"] == "Unshipped"
    assert order["ship_service_level"] == "Expedited"
    assert order["version"] == 1
    assert order["items"][0]["seller_sku"] == "SKU-1"
    assert order["allowed_actions"] == [
        "confirm_shipment",
        "cancel",
        "schedule_pickup",
        "print_packing_slip",
    ]
    assert order["ship_by"]["running"] is True and order["ship_by"]["due_in_seconds"] > 0


async def test_a_replayed_dead_snapshot_applies_by_its_version_without_an_inbox_row(
    fulfillment: RunningService,
) -> None:
    resources = fulfillment.resources
    v1 = snapshot(status="Pending", version=1)
    v2 = snapshot(amazon_order_id=v1.amazon_order_id, status="Unshipped", version=2)
    e1, e2 = event_of(v1), event_of(v2)
    assert await apply(fulfillment, e1)
    for n, event in enumerate((e2, e1)):  # v2, and v1 (already applied), dead-lettered
        message = Message(
            resources.settings.topic(topics.ORDERS), 0, 900 + n, event.subject, event.to_bytes()
        )
        async with resources.sessions() as session, session.begin():
            await resources.applier.dead_letter(
                session, message, RuntimeError("down"), 3, "fulfillment"
            )
    rows = await resources.dead_letters.list(status="dead", topic=None, after_id=0, limit=10)
    ids = [r.id for r in rows if r.subject == v1.amazon_order_id]

    assert [await resources.dead_letters.replay(i) for i in ids] == ["replayed", "replayed"]

    order = await _get(fulfillment, v1.amazon_order_id)
    assert order["status"] == "Unshipped"  # v2 applied; the replayed v1 was stale
    inbox = resources.tables.inbox
    async with resources.sessions() as session:
        held = await session.execute(
            select(inbox.c.event_id).where(inbox.c.event_id.in_([e1.id, e2.id]))
        )
        assert held.all() == []


async def test_late_unshipped_snapshot_keeps_the_sellers_shipment(
    fulfillment: RunningService,
) -> None:
    v1 = snapshot()
    await apply(fulfillment, v1)
    shipped = await fulfillment.client.post(
        f"/v1/orders/{v1.amazon_order_id}/shipments",
        json={
            "carrier_code": "UPS",
            "tracking_number": "1Z999AA10123456784",
            "ship_date": datetime.now(UTC).isoformat(),
        },
        headers=AS_SELLER,
    )
    assert shipped.status_code == 201, shipped.text
    await apply(fulfillment, snapshot(amazon_order_id=v1.amazon_order_id, version=2))
    order = await _get(fulfillment, v1.amazon_order_id)
    assert order["status"] == "Shipped"
    assert order["amazon_status"] == "Unshipped"
    assert order["version"] == 3
    assert order["items"][0]["quantity_shipped"] == 2


async def test_amazon_cancel_publishes_order_canceled_once_as_buyer(
    fulfillment: RunningService,
) -> None:
    v1 = snapshot()
    await apply(fulfillment, v1)
    canceled = dict(amazon_order_id=v1.amazon_order_id, status="Canceled", buyer_cancel=True)
    await apply(fulfillment, snapshot(version=2, **canceled))  # type: ignore[arg-type]
    await apply(fulfillment, snapshot(version=3, **canceled))  # type: ignore[arg-type]
    events = await outbox_events(fulfillment, v1.amazon_order_id)
    assert [e.type for e in events] == ["order.canceled"]
    [event] = events
    assert event.data["canceled_by"] == "buyer"
    assert event.data["buyer_requested"] is True
    assert event.data["order_status"] == "Canceled"
    assert event.aggregateversion == 2
    assert (await _get(fulfillment, v1.amazon_order_id))["allowed_actions"] == []


async def test_amazon_cancel_without_buyer_request_is_canceled_by_amazon(
    fulfillment: RunningService,
) -> None:
    v1 = snapshot(status="Canceled")
    await apply(fulfillment, v1)
    [event] = await outbox_events(fulfillment, v1.amazon_order_id)
    assert (event.type, event.data["canceled_by"], event.data["buyer_requested"]) == (
        "order.canceled",
        "amazon",
        False,
    )


async def test_foreign_sellers_order_is_404_and_unchanged(fulfillment: RunningService) -> None:
    v1 = snapshot()
    await apply(fulfillment, v1)
    oid = v1.amazon_order_id
    assert (await fulfillment.client.get(f"/v1/orders/{oid}", headers=AS_OTHER)).status_code == 404
    response = await fulfillment.client.post(
        f"/v1/orders/{oid}/cancellation", json={"reason": "NoInventory"}, headers=AS_OTHER
    )
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    assert (await _get(fulfillment, oid))["status"] == "Unshipped"
    assert await outbox_events(fulfillment, oid) == []
    assert (await _get(fulfillment, oid, AS_OPS))["seller_id"] != OTHER_SELLER


async def _search(svc: RunningService, **params: object) -> dict:  # type: ignore[type-arg]
    response = await svc.client.get("/v1/orders", params=params, headers=AS_SELLER)  # type: ignore[arg-type]
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def _ids(page: dict) -> set[str]:  # type: ignore[type-arg]
    return {o["amazon_order_id"] for o in page["items"]}


async def test_search_defaults_last_7_days_without_pending(fulfillment: RunningService) -> None:
    recent = snapshot()
    pending = snapshot(status="Pending")
    old = snapshot(purchased=datetime.now(UTC) - timedelta(days=20))
    for s in (recent, pending, old):
        await apply(fulfillment, s)

    page = await _search(fulfillment)
    assert recent.amazon_order_id in _ids(page)
    assert not {pending.amazon_order_id, old.amazon_order_id} & _ids(page)
    assert page["applied_defaults"][0].startswith("purchase_date_from=")
    assert page["applied_defaults"][1] == "status excludes Pending"

    explicit = await _search(
        fulfillment,
        purchase_date_from=(datetime.now(UTC) - timedelta(days=30)).isoformat(),
        status=["Pending", "Unshipped"],
    )
    assert {recent.amazon_order_id, pending.amazon_order_id, old.amazon_order_id} <= _ids(explicit)
    assert explicit["applied_defaults"] == []


async def test_search_filters(fulfillment: RunningService) -> None:
    fba = snapshot(channel="AFN", email="fba.buyer@example.com")
    mfn = snapshot(quantities=(1, 3), email="  MFN.Buyer@Example.COM ")
    for s in (fba, mfn):
        await apply(fulfillment, s)
    m = mfn.amazon_order_id
    assert _ids(await _search(fulfillment, buyer_email="mfn.buyer@example.com")) == {m}
    assert _ids(await _search(fulfillment, amazon_order_id=m)) == {m}
    assert m in _ids(await _search(fulfillment, asin="B0TEST0002"))
    assert fba.amazon_order_id not in _ids(await _search(fulfillment, asin="B0TEST0002"))
    assert m in _ids(await _search(fulfillment, seller_sku="SKU-2"))
    assert m in _ids(await _search(fulfillment, title="MUG NUMBER 2"))
    afn = await _search(fulfillment, fulfillment_channel="AFN")
    assert fba.amazon_order_id in _ids(afn) and m not in _ids(afn)
    ship = await fulfillment.client.post(
        f"/v1/orders/{m}/shipments",
        json={
            "carrier_code": "usps",
            "tracking_number": "9400 1000 0000 0000 0000 00",
            "ship_date": datetime.now(UTC).isoformat(),
        },
        headers=AS_SELLER,
    )
    assert ship.status_code == 201, ship.text
    assert _ids(await _search(fulfillment, tracking_number="9400100000000000000000")) == {m}
    assert m in _ids(await _search(fulfillment, carrier_code="USPS", status="Shipped"))
    bad = await fulfillment.client.get("/v1/orders", params={"status": "Lost"}, headers=AS_SELLER)
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "query.status.0"


async def test_search_pages_with_cursor(fulfillment: RunningService) -> None:
    base = datetime.now(UTC) - timedelta(days=1, hours=3)
    made = [
        snapshot(purchased=base + timedelta(minutes=n), sales_channel="Amazon.ca") for n in range(5)
    ]
    for s in made:
        await apply(fulfillment, s)
    seen: list[str] = []
    cursor = None
    for _ in range(4):
        params = {"limit": 2, "sales_channel": "Amazon.ca", "order": "asc"}
        page = await _search(fulfillment, **params, **({"cursor": cursor} if cursor else {}))
        seen += [o["amazon_order_id"] for o in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [s.amazon_order_id for s in made]
    lsd = await _search(
        fulfillment, sales_channel="Amazon.ca", sort="latest_ship_date", order="desc", limit=3
    )
    assert [o["amazon_order_id"] for o in lsd["items"]] == [
        s.amazon_order_id for s in reversed(made)
    ][:3]


async def test_ship_by_due_today_and_overdue(fulfillment: RunningService) -> None:
    now = datetime.now(UTC)
    # "today" ends at midnight on the calendar of each order's marketplace
    ends = dict(LocalMidnight.of(now).by_marketplace)
    tokyo_end, seattle_end = ends[JP], ends[US]
    due = snapshot(latest_ship_date=now + (seattle_end - now) / 2, marketplace_id=US)
    due_in_tokyo = snapshot(
        latest_ship_date=now + (tokyo_end - now) / 2,
        marketplace_id=JP,
        sales_channel="Amazon.co.jp",
    )
    tomorrow_in_tokyo = snapshot(
        latest_ship_date=tokyo_end + timedelta(minutes=30),
        marketplace_id=JP,
        sales_channel="Amazon.co.jp",
    )
    overdue = snapshot(purchased=now - timedelta(days=3), latest_ship_date=now - timedelta(hours=1))
    later = snapshot(latest_ship_date=seattle_end + timedelta(days=1))
    for s in (due, due_in_tokyo, tomorrow_in_tokyo, overdue, later):
        await apply(fulfillment, s)
    today = _ids(await _search(fulfillment, ship_by="due_today"))
    assert {due.amazon_order_id, due_in_tokyo.amazon_order_id} <= today
    assert (
        not {
            overdue.amazon_order_id,
            later.amazon_order_id,
            tomorrow_in_tokyo.amazon_order_id,
        }
        & today
    )
    over = await _search(fulfillment, ship_by="overdue")
    assert overdue.amazon_order_id in _ids(over)
    assert not {due.amazon_order_id, later.amazon_order_id} & _ids(over)
    detail = await _get(fulfillment, overdue.amazon_order_id)
    assert detail["ship_by"]["overdue_by_seconds"] >= 3600
    assert detail["ship_by"]["due_in_seconds"] is None


async def test_writes_need_an_acting_seller(fulfillment: RunningService) -> None:
    v1 = snapshot()
    await apply(fulfillment, v1)
    path = f"/v1/orders/{v1.amazon_order_id}/cancellation"
    body = {"reason": "NoInventory"}
    system = {"Authorization": "Bearer sys-key"}
    cases = [
        ({}, 401),
        (AS_OPS, 403),
        (system, 400),
        (system | {"X-Seller-Id": OTHER_SELLER}, 404),
        (AS_SELLER | {"X-Seller-Id": OTHER_SELLER}, 403),
    ]
    for headers, status in cases:
        response = await fulfillment.client.post(path, json=body, headers=headers)
        assert response.status_code == status, (headers, response.text)
    assert await outbox_events(fulfillment, v1.amazon_order_id) == []
    done = await fulfillment.client.post(
        path, json=body, headers=system | {"X-Seller-Id": v1.seller_id}
    )
    assert done.status_code == 200 and done.json()["status"] == "Canceled"


async def test_the_default_seven_days_are_each_marketplaces_calendar_days(
    fulfillment: RunningService,
) -> None:
    now = datetime.now(UTC)
    # today and the 6 days before, from midnight on the calendar of each order's marketplace
    starts = dict(LocalMidnight.days_after(now, -6).by_marketplace)
    inside, outside = timedelta(minutes=30), -timedelta(minutes=30)
    made = {
        (market, side): snapshot(
            purchased=starts[market] + side,
            latest_ship_date=now + timedelta(days=1),
            marketplace_id=market,
            sales_channel="Amazon.co.jp" if market == JP else "Amazon.com",
        )
        for market in (US, JP)
        for side in (inside, outside)
    }
    for s in made.values():
        await apply(fulfillment, s)
    found = _ids(await _search(fulfillment, limit=100))
    for (market, side), s in made.items():
        # the day before the seventh is out, though within 168 hours of now
        assert (s.amazon_order_id in found) is (side == inside), (market, side)
