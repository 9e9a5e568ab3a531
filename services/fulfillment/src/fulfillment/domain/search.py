"""The Manage Orders search: Seller Central's defaults and the ship-by views.

Like Seller Central, a search with no date shows the last 7 days, and one with no status
hides Pending orders (no address yet, not to be shipped). The 7 days are calendar days of the
order's marketplace (its time zone, ``shared.marketplaces``; UTC for an unknown marketplace):
today and the 6 days before, from local midnight, so a Tokyo order and a Seattle order bought
at the same moment may fall on different days
(docs/adr/0051-account-health-as-amazon-measures-it.md). Each default is dropped when the
seller states its own filter: dates by ``purchase_date_from``/``purchase_date_to`` (or an
``amazon_order_id``, or a ``ship_by`` view), statuses by ``status`` (or an
``amazon_order_id``, or a ``ship_by`` view, which has its own statuses). The response
lists the defaults applied.

``is_prime``, ``is_business_order``, ``is_replacement_order``: true keeps only such orders,
false only the others; not given, both.

``ship_by``: ``overdue`` = FBM orders awaiting shipment whose LatestShipDate has passed;
``due_today`` = FBM orders awaiting shipment due between now and the end of today on the
calendar of the order's marketplace (its time zone, ``shared.marketplaces``; UTC for an
unknown marketplace): a Tokyo order's today ends at 15:00 UTC, a Seattle order's at 07:00 or
08:00 UTC the next day.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime, time, timedelta, tzinfo

from shared.marketplaces import MARKETPLACES

DEFAULT_DAYS = 7
AWAITING = ("Unshipped", "PartiallyShipped")
NO_STATUS = "-none-"


@dataclass(frozen=True)
class SearchFilters:
    """What a search keeps (every field given must match); ``None``/empty: no condition."""

    seller_id: str | None = None
    purchase_date_from: datetime | None = None
    purchase_date_to: datetime | None = None
    amazon_order_id: str | None = None
    asin: str | None = None
    seller_sku: str | None = None
    title: str | None = None
    buyer_email_hash: str | None = None
    ship_service_level: str | None = None
    carrier_code: str | None = None
    tracking_number: str | None = None
    statuses: tuple[str, ...] = ()
    exclude_statuses: tuple[str, ...] = ()
    fulfillment_channel: str | None = None
    sales_channel: str | None = None
    is_prime: bool | None = None
    is_business_order: bool | None = None
    is_replacement_order: bool | None = None
    latest_ship_date_from: datetime | None = None
    latest_ship_date_to: datetime | None = None
    latest_ship_date_before: LocalMidnight | None = None  # the end of a day, per marketplace
    purchased_since: LocalMidnight | None = None  # the start of a day, per marketplace


@dataclass(frozen=True)
class LocalMidnight:
    """One midnight on every marketplace's calendar (``other``: UTC's, for an order of an
    unknown marketplace), as UTC moments."""

    by_marketplace: tuple[tuple[str, datetime], ...]
    other: datetime

    @classmethod
    def of(cls, moment: datetime) -> LocalMidnight:
        """The end of the day that holds ``moment``, in each marketplace's time zone."""
        return cls.days_after(moment, 1)

    @classmethod
    def days_after(cls, moment: datetime, days: int) -> LocalMidnight:
        """The midnight starting the day ``days`` after the one holding ``moment`` (1: the
        end of that day; 0: its start; -6: the start of the last 7 days), per marketplace."""
        at = tuple(
            (m.marketplace_id, midnight(moment, m.zone, days)) for m in MARKETPLACES.values()
        )
        return cls(at, midnight(moment, UTC, days))

    @property
    def earliest(self) -> datetime:
        return min([self.other, *(at for _, at in self.by_marketplace)])


def midnight(moment: datetime, zone: tzinfo, days: int) -> datetime:
    """The local midnight in ``zone`` starting the day ``days`` after the day of ``moment``."""
    day = moment.astimezone(zone).date() + timedelta(days=days)
    return datetime.combine(day, time(), zone).astimezone(UTC)


@dataclass(frozen=True)
class SearchPage:
    """One page in a sort (``purchase_date`` or ``latest_ship_date``), after a position."""

    sort: str
    descending: bool
    after: tuple[datetime | None, str] | None
    limit: int


def with_defaults(
    filters: SearchFilters, *, ship_by: str | None, now: datetime
) -> tuple[SearchFilters, list[str]]:
    applied: list[str] = []
    explicit_date = filters.purchase_date_from or filters.purchase_date_to
    if not (explicit_date or filters.amazon_order_id or ship_by):
        since = LocalMidnight.days_after(now, 1 - DEFAULT_DAYS)
        filters = replace(filters, purchase_date_from=since.earliest, purchased_since=since)
        applied.append(
            f"purchase_date_from=local midnight {DEFAULT_DAYS - 1} days before today on the "
            f"calendar of each order's marketplace (last {DEFAULT_DAYS} calendar days; "
            f"{since.other.isoformat()} for UTC)"
        )
    if not (filters.statuses or filters.amazon_order_id or ship_by):
        filters = replace(filters, exclude_statuses=("Pending",))
        applied.append("status excludes Pending")
    if ship_by is not None:
        filters = _ship_by(filters, ship_by, now)
    return filters, applied


def _ship_by(filters: SearchFilters, ship_by: str, now: datetime) -> SearchFilters:
    statuses: tuple[str, ...] = AWAITING
    if filters.statuses:  # keep the seller's own, if any can be due; else match nothing
        statuses = tuple(s for s in filters.statuses if s in AWAITING) or (NO_STATUS,)
    filters = replace(filters, statuses=statuses, fulfillment_channel="MFN")
    if ship_by == "overdue":
        lsd_to = min(filter(None, (filters.latest_ship_date_to, now)))
        return replace(filters, latest_ship_date_to=lsd_to)
    lsd_from = max(filter(None, (filters.latest_ship_date_from, now)))
    return replace(
        filters, latest_ship_date_from=lsd_from, latest_ship_date_before=LocalMidnight.of(now)
    )
