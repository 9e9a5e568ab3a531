"""On-time delivery and valid tracking counted from the carriers' scans: the seller's MFN
shipments (``shipments``, kept from fulfillment.v1 with each shipment's first physical scan and
first delivery), the windows' whole UTC days from the health rollup by day (kind
``promised``), their partial days from the shipments themselves (docs/adr/0059).

Each counts the shipments whose promised delivery date falls in its window: Amazon selects
them by promised delivery date, which leaves the carriers time to scan
(docs/adr/0051-account-health-as-amazon-measures-it.md).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from analytics.adapters import health_days, orm
from analytics.adapters.health_orders import Within
from analytics.domain.metrics import OTD_DAYS, VTR_DAYS, DeliveryCounts, Ratio

LATE_REASONS = ("delivered_late", "no_delivery_scan", "tracking_after_delivery")


async def counts(
    session: AsyncSession, seller_id: str, *, as_of: datetime, since: datetime
) -> DeliveryCounts:
    """The seller's counts at ``as_of``, over shipments shipped since ``since``: the windows'
    whole days from the health rollup by day, their partial days from the shipments
    (docs/adr/0059)."""
    pieces = health_days.Pieces(as_of)
    raw = (await session.execute(statement(seller_id, pieces.edge, since))).one()._mapping
    rollup = await session.execute(
        health_days.READ,
        {
            "seller_id": seller_id,
            "kinds": health_days.DELIVERY_KINDS,
            "first": pieces.first_day(health_days.LONGEST),
            "last": pieces.last_day,
        },
    )
    whole = health_days.delivery_figures(list(rollup), pieces)
    n = {label: int(raw[label]) + whole[label] for label in whole}
    return DeliveryCounts(
        on_time_delivery=Ratio(n["otd"], n["otd_of"]),
        late_delivery={reason: n[reason] for reason in LATE_REASONS},
        valid_tracking=Ratio(n["vtr"], n["vtr_of"]),
    )


def statement(seller_id: str, within: Within, since: datetime) -> Any:
    """What the scans' metrics count of the seller's MFN shipments shipped since ``since`` and
    promised ``within`` each window (on-time delivery's on the latest delivery date, valid
    tracking's on it or else the ship date)."""
    assert OTD_DAYS <= VTR_DAYS
    s = orm.shipments.c
    scanned = s.first_scan_at.is_not(None)
    otd_of = and_(within(s.latest_delivery_date, OTD_DAYS), scanned)
    given = func.coalesce(s.tracking_given_at, s.ship_date)
    delivered = s.delivered_at.is_not(None)
    in_time = delivered & (s.delivered_at <= s.latest_delivery_date)
    given_before = given <= s.delivered_at
    promised = func.coalesce(s.latest_delivery_date, s.ship_date)
    vtr_of = within(promised, VTR_DAYS)

    def count(label: str, *where: Any) -> Any:
        return func.count().filter(and_(*where)).label(label)

    return select(
        count("otd_of", otd_of),
        count("otd", otd_of, in_time, given_before),
        count("delivered_late", otd_of, delivered, ~in_time),
        count("no_delivery_scan", otd_of, ~delivered),
        count("tracking_after_delivery", otd_of, in_time, ~given_before),
        count("vtr_of", vtr_of),
        count("vtr", vtr_of, scanned),
    ).where(
        s.seller_id == seller_id,
        # The rows of both windows, found through the index on the promised date (an on-time
        # delivery window's latest delivery date is its promised date too).
        or_(vtr_of, within(promised, OTD_DAYS)),
        func.coalesce(s.fulfillment_channel, "MFN") == "MFN",
        s.ship_date >= since,
    )
