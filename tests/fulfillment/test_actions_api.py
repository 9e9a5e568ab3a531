"""Seller actions over REST: each goes through the state machine, each publishes its event,
each refusal is a clear 4xx and changes nothing."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pypdf import PdfReader

from orderflow_testkit.harness import RunningService, eventually
from tests.fulfillment.conftest import AS_SELLER, apply, outbox_events, snapshot

pytestmark = pytest.mark.integration

UPS = "1Z999AA10123456784"


def _now() -> str:
    return datetime.now(UTC).isoformat()


async def _order(svc: RunningService, **fields: Any) -> tuple[str, list[str]]:
    snap = snapshot(**fields)
    await apply(svc, snap)
    return snap.amazon_order_id, [i.order_item_id for i in snap.items]


async def _post(svc: RunningService, path: str, body: dict[str, Any]) -> Any:
    return await svc.client.post(path, json=body, headers=AS_SELLER)


async def _detail(svc: RunningService, oid: str) -> dict[str, Any]:
    response = await svc.client.get(f"/v1/orders/{oid}", headers=AS_SELLER)
    assert response.status_code == 200
    body: dict[str, Any] = response.json()
    return body


async def test_partial_then_full_shipment(fulfillment: RunningService) -> None:
    oid, (first, second) = await _order(fulfillment, quantities=(2, 1))
    part = await _post(
        fulfillment,
        f"/v1/orders/{oid}/shipments",
        {
            "carrier_code": "UPS",
            "tracking_number": UPS,
            "ship_date": _now(),
            "items": [{"order_item_id": first, "quantity": 1}],
            "ship_method": "Ground",
            "is_buy_shipping": True,
        },
    )
    assert part.status_code == 201, part.text
    assert part.json()["on_time"] is True and part.json()["valid_tracking"] is True
    assert (await _detail(fulfillment, oid))["status"] == "PartiallyShipped"

    too_many = await _post(
        fulfillment,
        f"/v1/orders/{oid}/shipments",
        {
            "carrier_code": "DHL",
            "tracking_number": "1234567890",
            "ship_date": _now(),
            "items": [{"order_item_id": first, "quantity": 2}],
        },
    )
    assert too_many.status_code == 409
    assert "1 left to ship" in too_many.json()["detail"]

    rest = await _post(
        fulfillment,
        f"/v1/orders/{oid}/shipments",
        {
            "carrier_code": "Amazon Shipping",
            "tracking_number": "TBA123456789012",
            "ship_date": _now(),
        },
    )
    assert rest.status_code == 201, rest.text
    assert sorted((i["order_item_id"], i["quantity"]) for i in rest.json()["items"]) == [
        (first, 1),
        (second, 1),
    ]
    order = await _detail(fulfillment, oid)
    assert order["status"] == "Shipped"
    events = await outbox_events(fulfillment, oid)
    assert [e.type for e in events] == ["shipment.confirmed", "shipment.confirmed"]
    assert [e.aggregateversion for e in events] == [2, 3]
    assert events[0].data["tracking_number"] == UPS
    assert events[0].data["is_buy_shipping"] is True
    assert events[0].data["order_status"] == "PartiallyShipped"
    assert events[1].data["order_status"] == "Shipped"

    again = await _post(
        fulfillment,
        f"/v1/orders/{oid}/shipments",
        {
            "carrier_code": "Amazon Shipping",
            "tracking_number": "TBA123456789012",
            "ship_date": _now(),
        },
    )
    assert again.status_code == 200  # the same shipment: not confirmed twice
    assert again.json()["shipment_id"] == rest.json()["shipment_id"]
    assert len(await outbox_events(fulfillment, oid)) == 2


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"carrier_code": "UPS", "tracking_number": "12345"}, "body.tracking_number"),
        ({"carrier_code": "FedEx", "tracking_number": "1234567890123"}, "body.tracking_number"),
        ({"carrier_code": "Other", "tracking_number": "AB123456789"}, "body.carrier_name"),
        (
            {"carrier_code": "UPS", "tracking_number": UPS, "ship_date": "2999-01-01T00:00:00Z"},
            "body.ship_date",
        ),
        (
            {"carrier_code": "UPS", "tracking_number": UPS, "ship_date": "2001-01-01T00:00:00Z"},
            "body.ship_date",
        ),
        (
            {"carrier_code": "UPS", "tracking_number": UPS, "ship_date": "2026-01-01T00:00:00"},
            "body.ship_date",
        ),
        (
            {
                "carrier_code": "UPS",
                "tracking_number": UPS,
                "items": [{"order_item_id": "nope", "quantity": 1}],
            },
            "body.items",
        ),
        (
            {
                "carrier_code": "UPS",
                "tracking_number": UPS,
                "items": [{"order_item_id": "x", "quantity": 0}],
            },
            "body.items.0.quantity",
        ),
    ],
)
async def test_bad_shipment_input_is_422_naming_the_field(
    fulfillment: RunningService, body: dict[str, Any], field: str
) -> None:
    oid, _ = await _order(fulfillment)
    response = await _post(fulfillment, f"/v1/orders/{oid}/shipments", {"ship_date": _now()} | body)
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["field"] == field
    assert (await _detail(fulfillment, oid))["status"] == "Unshipped"
    assert await outbox_events(fulfillment, oid) == []


async def test_unknown_carrier_is_accepted_with_best_effort_tracking_check(
    fulfillment: RunningService,
) -> None:
    oid, _ = await _order(fulfillment)
    response = await _post(
        fulfillment,
        f"/v1/orders/{oid}/shipments",
        {
            "carrier_code": "Other",
            "carrier_name": "Local Courier",
            "tracking_number": "XX",
            "ship_date": _now(),
        },
    )
    assert response.status_code == 201, response.text
    assert response.json()["valid_tracking"] is False


async def test_royal_mail_numbers_are_validated_and_refusals_name_the_format(
    fulfillment: RunningService,
) -> None:
    oid, _ = await _order(fulfillment)
    path = f"/v1/orders/{oid}/shipments"
    wrong = await _post(
        fulfillment,
        path,
        {"carrier_code": "Royal Mail", "tracking_number": "123456", "ship_date": _now()},
    )
    assert wrong.status_code == 422, wrong.text
    assert wrong.json()["errors"][0]["field"] == "body.tracking_number"
    assert "2 letters, 9 digits and GB" in wrong.text
    ok = await _post(
        fulfillment,
        path,
        {"carrier_code": "royal mail", "tracking_number": "AA 473 124 829 GB", "ship_date": _now()},
    )
    assert ok.status_code == 201, ok.text
    body = ok.json()
    assert (body["carrier_code"], body["tracking_number"]) == ("Royal Mail", "AA473124829GB")
    assert body["valid_tracking"] is True and body["tracking_warning"] is None


async def test_an_unvalidated_carrier_number_is_accepted_with_a_warning(
    fulfillment: RunningService,
) -> None:
    oid, _ = await _order(fulfillment)
    response = await _post(
        fulfillment,
        f"/v1/orders/{oid}/shipments",
        {"carrier_code": "yamato", "tracking_number": "ABC-1234567", "ship_date": _now()},
    )
    assert response.status_code == 201, response.text
    assert response.json()["carrier_code"] == "YamatoTransport"
    assert "12 digits" in response.json()["tracking_warning"]


async def test_fba_orders_refuse_seller_actions(fulfillment: RunningService) -> None:
    oid, _ = await _order(fulfillment, channel="AFN")
    for path, body in [
        ("shipments", {"carrier_code": "UPS", "tracking_number": UPS, "ship_date": _now()}),
        ("cancellation", {"reason": "NoInventory"}),
        ("refunds", {"reason": "Other"}),
    ]:
        response = await _post(fulfillment, f"/v1/orders/{oid}/{path}", body)
        assert response.status_code == 409, (path, response.text)
        assert "fulfilled by Amazon" in response.json()["detail"]
    assert (await _detail(fulfillment, oid))["allowed_actions"] == []


async def test_pending_order_cannot_ship_and_says_why(fulfillment: RunningService) -> None:
    oid, _ = await _order(fulfillment, status="Pending")
    response = await _post(
        fulfillment,
        f"/v1/orders/{oid}/shipments",
        {"carrier_code": "UPS", "tracking_number": UPS, "ship_date": _now()},
    )
    assert response.status_code == 409
    assert response.json()["current_status"] == "Pending"
    assert "payment is not authorised" in response.json()["detail"]


async def test_edit_shipment_publishes_shipment_updated(fulfillment: RunningService) -> None:
    oid, _ = await _order(fulfillment)
    shipped = await _post(
        fulfillment,
        f"/v1/orders/{oid}/shipments",
        {"carrier_code": "UPS", "tracking_number": UPS, "ship_date": _now()},
    )
    sid = shipped.json()["shipment_id"]
    path = f"/v1/orders/{oid}/shipments/{sid}"
    bad = await fulfillment.client.patch(path, json={"tracking_number": "1"}, headers=AS_SELLER)
    assert bad.status_code == 422
    edited = await fulfillment.client.patch(
        path, json={"carrier_code": "DHL", "tracking_number": "1234567890"}, headers=AS_SELLER
    )
    assert edited.status_code == 200, edited.text
    assert (edited.json()["carrier_code"], edited.json()["tracking_number"]) == (
        "DHL",
        "1234567890",
    )
    missing = await fulfillment.client.patch(
        f"/v1/orders/{oid}/shipments/nope", json={"ship_method": "x"}, headers=AS_SELLER
    )
    assert missing.status_code == 404
    events = await outbox_events(fulfillment, oid)
    assert [e.type for e in events] == ["shipment.confirmed", "shipment.updated"]
    assert events[1].data["tracking_number"] == "1234567890"


async def test_cancellation_buyer_requested_and_refused_after_shipping(
    fulfillment: RunningService,
) -> None:
    oid, _ = await _order(fulfillment, buyer_cancel=True)
    bad = await _post(fulfillment, f"/v1/orders/{oid}/cancellation", {"reason": "Whatever"})
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "body.reason"
    done = await _post(fulfillment, f"/v1/orders/{oid}/cancellation", {"reason": "NoInventory"})
    assert done.status_code == 200, done.text
    assert done.json()["status"] == "Canceled"
    assert done.json()["cancellation"]["buyer_requested"] is True
    [event] = await outbox_events(fulfillment, oid)
    assert (event.type, event.data["canceled_by"], event.data["buyer_requested"]) == (
        "order.canceled",
        "seller",
        True,
    )
    again = await _post(fulfillment, f"/v1/orders/{oid}/cancellation", {"reason": "NoInventory"})
    assert again.status_code == 409 and "canceled" in again.json()["detail"]

    shipped_id, _ = await _order(fulfillment)
    await _post(
        fulfillment,
        f"/v1/orders/{shipped_id}/shipments",
        {"carrier_code": "UPS", "tracking_number": UPS, "ship_date": _now()},
    )
    late = await _post(
        fulfillment, f"/v1/orders/{shipped_id}/cancellation", {"reason": "NoInventory"}
    )
    assert late.status_code == 409
    assert "already shipped" in late.json()["detail"]


async def _shipped(svc: RunningService, **fields: Any) -> tuple[str, list[str]]:
    oid, items = await _order(svc, **fields)
    response = await _post(
        svc,
        f"/v1/orders/{oid}/shipments",
        {"carrier_code": "UPS", "tracking_number": UPS, "ship_date": _now()},
    )
    assert response.status_code == 201
    return oid, items


async def test_refunds_never_exceed_what_was_paid(fulfillment: RunningService) -> None:
    unshipped, _ = await _order(fulfillment)
    early = await _post(fulfillment, f"/v1/orders/{unshipped}/refunds", {"reason": "Other"})
    assert early.status_code == 409 and "cancel the order" in early.json()["detail"]

    oid, (item,) = await _shipped(fulfillment)  # paid: 20.00 + 4.00 shipping + 1.00 tax
    part = await _post(
        fulfillment,
        f"/v1/orders/{oid}/refunds",
        {"reason": "PriceError", "items": [{"order_item_id": item, "amount": "5.50"}]},
    )
    assert part.status_code == 201, part.text
    assert part.json()["total"] == "5.50"
    over = await _post(
        fulfillment,
        f"/v1/orders/{oid}/refunds",
        {"reason": "PriceError", "items": [{"order_item_id": item, "amount": "19.51"}]},
    )
    assert over.status_code == 409
    assert "19.50" in over.json()["detail"]
    for amount, field in [
        ("-1", "body.items.0.amount"),
        ("1.234", "body.items.amount"),
        ("abc", "body.items.0.amount"),
    ]:
        bad = await _post(
            fulfillment,
            f"/v1/orders/{oid}/refunds",
            {"reason": "PriceError", "items": [{"order_item_id": item, "amount": amount}]},
        )
        assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == field
    rest = await _post(fulfillment, f"/v1/orders/{oid}/refunds", {"reason": "CustomerReturn"})
    assert rest.status_code == 201 and rest.json()["total"] == "19.50"
    nothing = await _post(fulfillment, f"/v1/orders/{oid}/refunds", {"reason": "CustomerReturn"})
    assert nothing.status_code == 409
    order = await _detail(fulfillment, oid)
    assert order["refunded_total"] == "25.00"
    refunds = [e for e in await outbox_events(fulfillment, oid) if e.type == "refund.issued"]
    assert [e.data["total"]["amount"] for e in refunds] == ["5.50", "19.50"]
    assert refunds[0].data["reason"] == "PriceError"


async def test_return_authorised_received_and_refunded(fulfillment: RunningService) -> None:
    oid, (item,) = await _shipped(fulfillment)
    too_many = await _post(
        fulfillment,
        f"/v1/orders/{oid}/returns",
        {"rma_id": "RMA-1", "items": [{"order_item_id": item, "quantity": 3}]},
    )
    assert too_many.status_code == 409
    authorised = await _post(
        fulfillment,
        f"/v1/orders/{oid}/returns",
        {
            "rma_id": "RMA-1",
            "reason": "Defective",
            "items": [{"order_item_id": item, "quantity": 1}],
        },
    )
    assert authorised.status_code == 201, authorised.text
    rid = authorised.json()["return_id"]
    received = await _post(fulfillment, f"/v1/orders/{oid}/returns/{rid}/receipt", {"refund": True})
    assert received.status_code == 200, received.text
    assert received.json()["received_at"] is not None
    assert received.json()["refund"]["total"] == "12.50"  # half of 25.00 paid for 2 units
    again = await _post(fulfillment, f"/v1/orders/{oid}/returns/{rid}/receipt", {})
    assert again.status_code == 409
    types = [e.type for e in await outbox_events(fulfillment, oid)]
    assert types == ["shipment.confirmed", "return.authorized", "return.received", "refund.issued"]
    missing = await _post(fulfillment, f"/v1/orders/{oid}/returns/nope/receipt", {})
    assert missing.status_code == 404


async def test_pickup_window_rules(fulfillment: RunningService) -> None:
    oid, _ = await _order(fulfillment)
    start = datetime.now(UTC) + timedelta(hours=2)
    path = f"/v1/orders/{oid}/pickup"
    for window, field in [
        ((start - timedelta(hours=3), start), "body.window_start"),
        ((start, start - timedelta(minutes=1)), "body.window_end"),
        ((start, start + timedelta(days=1, minutes=1)), "body.window_end"),
    ]:
        bad = await _post(
            fulfillment,
            path,
            {
                "carrier_code": "UPS",
                "window_start": window[0].isoformat(),
                "window_end": window[1].isoformat(),
            },
        )
        assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == field
    ok = await _post(
        fulfillment,
        path,
        {
            "carrier_code": "ups",
            "window_start": start.isoformat(),
            "window_end": (start + timedelta(hours=4)).isoformat(),
        },
    )
    assert ok.status_code == 201, ok.text
    [event] = await outbox_events(fulfillment, oid)
    assert (event.type, event.data["carrier_code"]) == ("pickup.scheduled", "UPS")


async def test_packing_slip_is_a_pdf_with_the_order_and_address(
    fulfillment: RunningService,
) -> None:
    oid, _ = await _order(fulfillment)
    response = await fulfillment.client.get(f"/v1/orders/{oid}/packing-slip", headers=AS_SELLER)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/pdf"
    assert response.content.startswith(b"%PDF")
    text = PdfReader(io.BytesIO(response.content)).pages[0].extract_text()
    assert oid in text and "1200 Elm Street" in text
    ops = await fulfillment.client.get(
        f"/v1/orders/{oid}/packing-slip", headers={"Authorization": "Bearer ops-key"}
    )
    assert ops.status_code == 403  # buyer PII: the seller's (or a system acting for it) only
    fba, _ = await _order(fulfillment, channel="AFN")
    refused = await fulfillment.client.get(f"/v1/orders/{fba}/packing-slip", headers=AS_SELLER)
    assert refused.status_code == 409


async def test_ship_by_clock_flags_overdue_order_once(fulfillment: RunningService) -> None:
    now = datetime.now(UTC)
    oid, _ = await _order(
        fulfillment, purchased=now - timedelta(days=3), latest_ship_date=now - timedelta(minutes=5)
    )
    fine, _ = await _order(fulfillment, latest_ship_date=now + timedelta(days=1))

    async def flagged() -> bool:
        return bool((await _detail(fulfillment, oid))["flagged_late"])

    await eventually(flagged, timeout=10)
    await _post(  # shipping it late afterwards: on_time false, flag stays
        fulfillment,
        f"/v1/orders/{oid}/shipments",
        {"carrier_code": "UPS", "tracking_number": UPS, "ship_date": _now()},
    )
    events = await outbox_events(fulfillment, oid)
    assert [e.type for e in events] == ["order.ship_late", "shipment.confirmed"]
    assert events[1].data["on_time"] is False
    assert not (await _detail(fulfillment, fine))["flagged_late"]
    assert await outbox_events(fulfillment, fine) == []
