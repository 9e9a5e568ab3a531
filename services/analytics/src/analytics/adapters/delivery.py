"""On-time delivery and valid tracking counted from the carriers' scans: one statement over the
seller's MFN shipments (``shipments``, kept from fulfillment.v1 with each shipment's first
physical scan and first delivery).

Each counts the shipments whose promised delivery date falls in its window: Amazon selects
them by promised delivery date, which leaves the carriers time to scan
(docs/adr/0051-account-health-as-amazon-measures-it.md).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from analytics.adapters import orm
from analytics.domain.metrics import OTD_DAYS, VTR_DAYS, DeliveryCounts, Ratio, Window

LATE_REASONS = ("delivered_late", "no_delivery_scan", "tracking_after_delivery")


async def counts(
    session: AsyncSession, seller_id: str, *, as_of: datetime, since: datetime
) -> DeliveryCounts:
    """The seller's counts at ``as_of``, over shipments shipped since ``since``."""
    n = (await session.execute(_statement(seller_id, as_of, since))).one()._mapping
    return DeliveryCounts(
        on_time_delivery=Ratio(int(n["otd"]), int(n["otd_of"])),
        late_delivery={reason: int(n[reason]) for reason in LATE_REASONS},
        valid_tracking=Ratio(int(n["vtr"]), int(n["vtr_of"])),
    )


def _statement(seller_id: str, as_of: datetime, since: datetime) -> Any:
    assert OTD_DAYS <= VTR_DAYS
    s = orm.shipments.c
    scanned = s.first_scan_at.is_not(None)
    otd_of = and_(_within(s.latest_delivery_date, as_of, OTD_DAYS), scanned)
    given = func.coalesce(s.tracking_given_at, s.ship_date)
    delivered = s.delivered_at.is_not(None)
    in_time = delivered & (s.delivered_at <= s.latest_delivery_date)
    given_before = given <= s.delivered_at
    promised = func.coalesce(s.latest_delivery_date, s.ship_date)
    vtr_of = _within(promised, as_of, VTR_DAYS)

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
        # Every shipment counted is promised in the valid-tracking window (on-time delivery's
        # is shorter and on the same date): the index on it finds the window's shipments only
        # (docs/adr/0059).
        vtr_of,
        func.coalesce(s.fulfillment_channel, "MFN") == "MFN",
        s.ship_date >= since,
    )


def _within(moment: Any, as_of: datetime, days: int) -> Any:
    """``moment`` in the closed window ``[as_of - days, as_of]`` (NULL never is)."""
    window = Window.ending(as_of, days, by="")
    return moment.between(window.start, window.end)
