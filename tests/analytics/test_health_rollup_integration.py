"""The account-health route over a varied history answers exactly what analytics counted before
its health rollup (docs/adr/0059): every figure, numerator, denominator and breakdown, at
several ``as_of`` around the windows' edges.

The history goes through the real topics: orders of several marketplaces and time zones in
both channels, newer and stale versions, orders known only from fulfillment or from a case,
shipments (late, without valid tracking, scanned, delivered late, tracking given after the
delivery, several to one order), cancels by each side, ship-late flags, claims, chargebacks and
feedback (counted, not counted, removed), and another seller's orders. The reference is the
statement analytics ran before (``tests/analytics/health_reference.py``), on the same database.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from orderflow_testkit.harness import RunningService
from shared import topics
from shared.events import defects, fulfillment, orders
from shared.events.orders import OrderSnapshot
from tests.analytics import health_reference
from tests.analytics.conftest import OPS, OTHER_SELLER, SELLER, Publisher, wait_applied
from tests.analytics.factories import cancel, claim, feedback, ship_late, shipment, snapshot

pytestmark = pytest.mark.integration

AS_OF = datetime(2026, 6, 30, 12, 0, tzinfo=UTC)
D = timedelta(days=1)
S = timedelta(seconds=1)
H = timedelta(hours=1)
MARKETPLACES = [
    ("ATVPDKIKX0DER", "USD"),
    ("A1PA6795UKMFR9", "EUR"),
    ("A1VC38T7YXB528", "JPY"),
    ("A1F83G8C2ARO7P", "GBP"),
]
MIDNIGHT = AS_OF - 12 * H  # the rollup's days are UTC days
# The moments each window's edge falls on, at AS_OF and at MIDNIGHT (every window is closed).
EDGES = [
    end - days * D + shift
    for end in (AS_OF, MIDNIGHT)
    for days in (0, 7, 10, 14, 30, 60)
    for shift in (-S, 0 * S, S)
]
AS_OFS = [
    AS_OF,
    MIDNIGHT,
    MIDNIGHT - S,
    AS_OF - S,
    AS_OF + S,
    AS_OF - 3 * D - 5 * H,
    AS_OF + 20 * D,
    AS_OF - 45 * D,
]


class History:
    """A seeded, varied history of one seller (and a little of another), published in order."""

    def __init__(self, publisher: Publisher) -> None:
        self.pub = publisher
        self.rng = random.Random(59)

    async def order(self, purchased: datetime, seller: str = SELLER) -> None:
        rng = self.rng
        market, currency = rng.choice(MARKETPLACES)
        channel = "AFN" if rng.random() < 0.2 else "MFN"
        latest_ship = None if rng.random() < 0.1 else purchased + rng.choice([1, 2, 3]) * D
        order = snapshot(
            purchased=purchased,
            channel=channel,
            latest_ship=latest_ship,
            marketplace=market,
            currency=currency,
            seller=seller,
            status=rng.choice(["Unshipped", "Unshipped", "Pending"]),
        )
        known_from = rng.random()
        if known_from > 0.06:  # else: known only from fulfillment's or the defects' events
            await self._publish(topics.ORDERS, orders.ORDER_CREATED, order, 1, seller)
        if rng.random() < 0.15:  # a newer version (shipped or canceled), then a stale one
            status = rng.choice(["Shipped", "Canceled"])
            data = order.model_dump()
            buyer = rng.random() < 0.5
            newer = OrderSnapshot.model_validate(
                {**data, "version": 2, "order_status": status, "is_buyer_requested_cancel": buyer}
            )
            await self._publish(topics.ORDERS, orders.ORDER_UPDATED, newer, 2, seller)
            stale = OrderSnapshot.model_validate({**data, "fulfillment_channel": "AFN"})
            await self._publish(topics.ORDERS, orders.ORDER_UPDATED, stale, 1, seller)
        fate = rng.random()
        if fate < 0.25:
            await self._cancel(order, seller)
            if rng.random() < 0.3:  # canceled after shipping
                await self._ship(order, seller)
        elif fate < 0.9:
            await self._ship(order, seller)
        if latest_ship is not None and rng.random() < 0.1:
            flag = ship_late(order, at=latest_ship + H)
            await self._publish(topics.FULFILLMENT, fulfillment.ORDER_SHIP_LATE, flag, 1, seller)
        await self._cases(order, seller)

    async def due_on(self, moment: datetime) -> None:
        """An MFN order due to ship and promised for delivery at ``moment``, shipped an hour
        late or early, scanned, and delivered at ``moment`` or after it."""
        rng = self.rng
        order = snapshot(purchased=moment - 2 * D, latest_ship=moment)
        await self._publish(topics.ORDERS, orders.ORDER_CREATED, order, 1, SELLER)
        payload = shipment(
            order,
            shipped=moment + rng.choice([-H, H]),
            on_time=rng.random() < 0.5,
            latest_delivery=moment,
            first_scan=moment - H,
            delivered=moment + rng.choice([0 * S, S]),
        )
        await self._publish(topics.FULFILLMENT, fulfillment.SHIPMENT_CONFIRMED, payload, 1, SELLER)

    async def _ship(self, order: OrderSnapshot, seller: str) -> None:
        rng = self.rng
        shipments = 2 if rng.random() < 0.08 else 1
        for n in range(shipments):
            shipped = order.purchase_date + rng.choice([6, 20, 30, 50, 80]) * H
            promised = None if rng.random() < 0.15 else shipped + rng.choice([2, 3, 5]) * D
            scanned = shipped + 5 * H if rng.random() < 0.75 else None
            delivered = None
            if scanned is not None and rng.random() < 0.7:
                delivered = shipped + rng.choice([1, 2, 4, 6, 9]) * D
            payload = shipment(
                order,
                shipped=shipped,
                on_time=rng.random() < 0.85,
                valid_tracking=rng.random() < 0.9,
                shipment_id=f"shp-{order.amazon_order_id}-{n}",
                latest_delivery=promised,
                first_scan=scanned,
                delivered=delivered,
            )
            if delivered is not None and rng.random() < 0.1:
                payload = payload.model_copy(update={"tracking_given_at": delivered + H})
            await self._publish(
                topics.FULFILLMENT, fulfillment.SHIPMENT_CONFIRMED, payload, 1, seller
            )

    async def _cancel(self, order: OrderSnapshot, seller: str) -> None:
        by = self.rng.choice(["seller", "amazon", "buyer"])
        payload = cancel(
            order,
            at=order.purchase_date + 3 * H,
            by=by,
            buyer_requested=by == "buyer" or self.rng.random() < 0.1,
        )
        await self._publish(topics.FULFILLMENT, fulfillment.ORDER_CANCELED, payload, 1, seller)

    async def _cases(self, order: OrderSnapshot, seller: str) -> None:
        rng = self.rng
        if rng.random() < 0.12:
            kind = rng.choice(["a_to_z", "a_to_z", "chargeback"])
            counts = rng.random() < 0.7
            event = "chargeback.filed" if kind == "chargeback" else "claim.decided"
            payload = claim(order, kind=kind, counts=counts, status="decided")
            await self._publish(topics.DEFECTS, event, payload, 1, seller)
        if rng.random() < 0.1:
            rating = rng.choice([1, 2, 3, 5])
            payload = feedback(order, rating=rating, counts=rating <= 2)
            await self._publish(topics.DEFECTS, defects.FEEDBACK_RECEIVED, payload, 1, seller)
            if rating <= 2 and rng.random() < 0.4:
                removed = feedback(
                    order, rating=rating, counts=False, removed=order.purchase_date + 9 * D
                )
                await self._publish(topics.DEFECTS, defects.FEEDBACK_REMOVED, removed, 2, seller)

    async def _publish(
        self, topic: str, event_type: str, payload: Any, version: int, seller: str
    ) -> None:
        await self.pub.publish(topic, event_type, payload, version=version, seller_id=seller)


async def _route(svc: RunningService, as_of: datetime) -> health_reference.Figures:
    response = await svc.client.get(
        "/v1/account-health", params={"as_of": as_of.isoformat()}, headers=OPS
    )
    assert response.status_code == 200, response.text
    return {
        (m["name"], m["scope"]): (m["numerator"], m["denominator"], m["breakdown"])
        for m in response.json()["metrics"]
    }


async def test_the_route_counts_what_the_statement_over_the_history_counted(
    analytics: RunningService, publisher: Publisher
) -> None:
    history = History(publisher)
    rng = random.Random(7)
    moments = [
        *EDGES,
        *(AS_OF - rng.uniform(-2, 130) * D for _ in range(160)),
        AS_OF - 200 * D,
    ]
    for moment in moments:
        await history.order(moment)
    for edge in EDGES:
        await history.due_on(edge)
    for moment in moments[:40]:
        await history.order(moment, seller=OTHER_SELLER)
    await wait_applied(analytics, publisher.sent, timeout=120)

    async with analytics.resources.sessions() as session:
        for as_of in AS_OFS:
            expected = await health_reference.figures(session, SELLER, as_of)
            assert await _route(analytics, as_of) == expected, as_of
    # the history is varied: every figure has something to count at AS_OF
    at_as_of = await _route(analytics, AS_OF)
    assert all(denominator > 0 for _, denominator, _ in at_as_of.values()), at_as_of
    assert all(numerator > 0 for numerator, _, _ in at_as_of.values()), str(at_as_of)
