"""Known scenarios sent through the real topics move /v1/account-health exactly as defined."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from orderflow_testkit.harness import RunningService
from shared import topics
from shared.events import defects, fulfillment, orders
from shared.events.fulfillment import Shipment
from shared.events.orders import OrderSnapshot
from tests.analytics.conftest import OPS, Publisher, wait_applied
from tests.analytics.factories import cancel, claim, feedback, ship_late, shipment, snapshot

pytestmark = pytest.mark.integration

AS_OF = datetime(2026, 6, 30, 12, 0, tzinfo=UTC)
D = timedelta(days=1)


async def _health(svc: RunningService) -> dict[tuple[str, str], dict[str, Any]]:
    response = await svc.client.get(
        "/v1/account-health", params={"as_of": AS_OF.isoformat()}, headers=OPS
    )
    assert response.status_code == 200, response.text
    return {(m["name"], m["scope"]): m for m in response.json()["metrics"]}


def _figures(metric: dict[str, Any]) -> tuple[str | None, int, int, str]:
    return metric["value"], metric["numerator"], metric["denominator"], metric["status"]


async def _scenario(pub: Publisher) -> tuple[int, Shipment]:
    """Eleven MFN orders, four AFN orders and one old one; answers how many events went out."""
    t = AS_OF
    m = {
        1: snapshot(purchased=t - 3 * D, latest_ship=t - 2 * D),
        2: snapshot(purchased=t - 4 * D, latest_ship=t - 3 * D),
        3: snapshot(purchased=t - 6 * D, latest_ship=t - 5 * D),
        4: snapshot(purchased=t - 9 * D, latest_ship=t - 8 * D),
        5: snapshot(purchased=t - 21 * D, latest_ship=t - 20 * D),
        6: snapshot(purchased=t - 26 * D, latest_ship=t - 25 * D),
        7: snapshot(purchased=t - 5 * D, latest_ship=t - 4 * D),
        8: snapshot(purchased=t - 41 * D, latest_ship=t - 40 * D),
        9: snapshot(purchased=t - 16 * D, latest_ship=t - 15 * D),
        10: snapshot(purchased=t - 1 * D, latest_ship=t + 1 * D),
        11: snapshot(purchased=t - 2 * D, latest_ship=t + 1 * D),
    }
    old = snapshot(purchased=t - 61 * D, latest_ship=t - 60 * D)
    afn = [snapshot(purchased=t - k * D, channel="AFN") for k in (1, 10, 20, 59)]
    for order in [*m.values(), old, *afn]:
        await pub.publish(topics.ORDERS, orders.ORDER_CREATED, order, version=1)
    # a newer version of m1, then a stale one that would make it AFN: the stale one is dropped
    newer = OrderSnapshot.model_validate({**m[1].model_dump(), "version": 2})
    await pub.publish(topics.ORDERS, orders.ORDER_UPDATED, newer, version=2)
    stale = OrderSnapshot.model_validate({**m[1].model_dump(), "fulfillment_channel": "AFN"})
    await pub.publish(topics.ORDERS, orders.ORDER_UPDATED, stale, version=1)

    ship = fulfillment.SHIPMENT_CONFIRMED
    shipments = [
        (m[1], t - 2 * D - timedelta(hours=1), True, True),
        (m[2], t - 2 * D, False, True),
        (m[4], t - 8 * D, True, True),
        (m[5], t - 19 * D, False, False),
        (m[6], t - 25 * D, True, True),
        (m[9], t - 15 * D, True, False),
        (m[8], t - 40 * D, True, True),
    ]
    for order, shipped, on_time, valid in shipments:
        payload = shipment(order, shipped=shipped, on_time=on_time, valid_tracking=valid)
        await pub.publish(topics.FULFILLMENT, ship, payload, version=1)
    afn_ship = shipment(afn[0], shipped=t - D, valid_tracking=False)
    await pub.publish(topics.FULFILLMENT, ship, afn_ship, version=1)
    late = ship_late(m[3], at=t - 5 * D + timedelta(hours=1))
    await pub.publish(topics.FULFILLMENT, fulfillment.ORDER_SHIP_LATE, late, version=1)
    cancels = [
        cancel(m[7], at=t - 4 * D),
        cancel(m[10], at=t - D, by="buyer", buyer_requested=True),
        cancel(m[11], at=t - D, by="seller", buyer_requested=True),
    ]
    for payload in cancels:
        await pub.publish(topics.FULFILLMENT, fulfillment.ORDER_CANCELED, payload, version=1)

    # m1: an A-to-z claim granted (v2 arrives before v1) and negative feedback: counts once
    granted = claim(m[1], counts=True, status="decided")
    await pub.publish(topics.DEFECTS, "claim.decided", granted, version=2)
    await pub.publish(topics.DEFECTS, "claim.filed", claim(m[1], counts=False), version=1)
    await pub.publish(
        topics.DEFECTS, defects.FEEDBACK_RECEIVED, feedback(m[1], rating=1, counts=True), version=1
    )
    chargeback = claim(m[2], kind="chargeback", counts=True)
    await pub.publish(topics.DEFECTS, "chargeback.filed", chargeback, version=1)
    denied = claim(m[3], counts=False, status="decided")
    await pub.publish(topics.DEFECTS, "claim.decided", denied, version=1)
    await pub.publish(topics.DEFECTS, "claim.decided", claim(old, counts=True), version=1)
    # AFN: negative feedback, then removed (no longer counts)
    await pub.publish(
        topics.DEFECTS,
        defects.FEEDBACK_RECEIVED,
        feedback(afn[1], rating=2, counts=True),
        version=1,
    )
    removed = feedback(afn[1], rating=2, counts=False, removed=t - 2 * D)
    await pub.publish(topics.DEFECTS, defects.FEEDBACK_REMOVED, removed, version=2)
    m5_fixed = shipment(m[5], shipped=t - 19 * D, on_time=False, first_scan=t - 19 * D)
    return pub.sent, m5_fixed


async def test_every_account_health_figure_follows_the_definitions(
    analytics: RunningService, publisher: Publisher
) -> None:
    sent, m5_fixed = await _scenario(publisher)
    await wait_applied(analytics, sent)
    health = await _health(analytics)

    odr_mfn = health[("order_defect_rate", "MFN")]
    assert _figures(odr_mfn) == ("0.1818", 2, 11, "critical")
    assert odr_mfn["breakdown"] == {"a_to_z": 1, "chargeback": 1, "negative_feedback": 1}
    assert odr_mfn["window"] == {
        "days": 60,
        "from": "2026-05-01T12:00:00Z",
        "to": "2026-06-30T12:00:00Z",
        "by": "purchase_date",
    }
    assert odr_mfn["target"]["threshold"] == "0.01"
    assert _figures(health[("order_defect_rate", "AFN")]) == ("0.0000", 0, 4, "good")
    assert _figures(health[("late_shipment_rate", "10d")]) == ("0.5000", 2, 4, "critical")
    assert _figures(health[("late_shipment_rate", "30d")]) == ("0.4286", 3, 7, "critical")
    cancel_rate = health[("pre_fulfillment_cancel_rate", "MFN")]
    assert _figures(cancel_rate) == ("0.1667", 1, 6, "critical")
    # no carrier scan yet: the six MFN shipments promised in 30 days are not measurable
    vtr = health[("valid_tracking_rate", "MFN")]
    assert _figures(vtr) == (None, 0, 6, "insufficient_data")
    assert vtr["breakdown"] == {"without_scan": 6} and "tracking-events" in vtr["note"]
    otd = health[("on_time_delivery_rate", "MFN")]
    assert (otd["value"], otd["status"]) == (None, "insufficient_data")

    # a restated shipment (newer version) carries m5's first carrier scan
    await publisher.publish(topics.FULFILLMENT, fulfillment.SHIPMENT_UPDATED, m5_fixed, version=2)
    await wait_applied(analytics, sent + 1)
    health = await _health(analytics)
    assert _figures(health[("valid_tracking_rate", "MFN")]) == ("0.1667", 1, 6, "critical")

    # moving as_of forward by 30 days empties the 10-day windows
    later = (AS_OF + 30 * D).isoformat()
    response = await analytics.client.get(
        "/v1/account-health", params={"as_of": later}, headers=OPS
    )
    moved = {(m["name"], m["scope"]): m for m in response.json()["metrics"]}
    assert _figures(moved[("late_shipment_rate", "10d")]) == (None, 0, 0, "insufficient_data")


async def test_account_health_needs_a_seller_for_ops_keys(analytics: RunningService) -> None:
    response = await analytics.client.get(
        "/v1/account-health", headers={"Authorization": "Bearer ops-key"}
    )
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "header.X-Seller-Id"
    naive = await analytics.client.get(
        "/v1/account-health", params={"as_of": "2026-06-30T12:00:00"}, headers=OPS
    )
    assert naive.status_code == 422
    assert naive.json()["errors"][0]["field"] == "query.as_of"
