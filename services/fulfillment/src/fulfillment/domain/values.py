"""Value objects of an order: its items and what the seller did (shipments, refunds,
returns, pickups, cancellation), plus the ship-by clock reading."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal


@dataclass
class Item:
    order_item_id: str
    asin: str
    quantity_ordered: int
    quantity_shipped: int = 0
    seller_sku: str | None = None
    title: str | None = None
    item_price: Decimal | None = None
    item_tax: Decimal | None = None
    shipping_price: Decimal | None = None
    shipping_tax: Decimal | None = None
    promotion_discount: Decimal | None = None
    is_buyer_requested_cancel: bool = False

    @property
    def unshipped(self) -> int:
        return max(self.quantity_ordered - self.quantity_shipped, 0)

    @property
    def paid(self) -> Decimal | None:
        """What the buyer paid for the line: item price + shipping + taxes, as Amazon sent."""
        parts = (self.item_price, self.shipping_price, self.item_tax, self.shipping_tax)
        known = [p for p in parts if p is not None]
        return sum(known, Decimal("0")) if known else None


@dataclass(frozen=True)
class ItemQuantity:
    order_item_id: str
    quantity: int


@dataclass(frozen=True)
class AmazonConfirmation:
    """What Amazon said to confirmShipment for this shipment (pushed by ingest)."""

    status: str  # sent | failed
    at: datetime
    fulfillment_version: int  # the order version whose shipment state was sent
    error: str | None = None

    def supersedes(self, other: AmazonConfirmation | None) -> bool:
        """Newer than ``other``: a later version, or the same version later (a retry)."""
        return _newer(self, other)


@dataclass(frozen=True)
class AmazonFeedAnswer:
    """What Amazon's feed processing report said to a cancellation or a refund that ingest
    sent as a feed message: ``result_code`` and ``error`` are Amazon's ResultMessageCode and
    ResultDescription."""

    status: str  # accepted | failed
    at: datetime
    fulfillment_version: int  # the order version whose cancellation or refund was sent
    result_code: str | None = None
    error: str | None = None
    feed_id: str | None = None

    def supersedes(self, other: AmazonFeedAnswer | None) -> bool:
        """Newer than ``other``: a later version, or the same version later (a retry)."""
        return _newer(self, other)


def _newer(
    answer: AmazonConfirmation | AmazonFeedAnswer,
    held: AmazonConfirmation | AmazonFeedAnswer | None,
) -> bool:
    return held is None or (answer.fulfillment_version, answer.at) >= (
        held.fulfillment_version,
        held.at,
    )


# A carrier's statuses (``shared.events.fulfillment.SCAN_STATUSES``): every one but
# ``pre_transit`` (a label made, the parcel not yet with the carrier) is a physical scan, which
# is what makes a tracking number valid for Amazon (docs/adr/0051-account-health-as-amazon-
# measures-it.md). A shipment keeps its newest ``MAX_SCANS`` scans; the first physical scan and
# the first delivery are kept apart, so dropping old scans never changes them.
NOT_A_SCAN = "pre_transit"
DELIVERED = "delivered"
MAX_SCANS = 100


@dataclass(frozen=True)
class Scan:
    status: str
    occurred_at: datetime
    received_at: datetime


@dataclass
class Shipment:
    shipment_id: str
    carrier_code: str
    tracking_number: str
    ship_date: datetime
    items: tuple[ItemQuantity, ...]
    confirmed_at: datetime
    on_time: bool
    valid_tracking: bool
    carrier_name: str | None = None
    ship_method: str | None = None
    is_buy_shipping: bool = False
    updated_at: datetime | None = None
    amazon_confirmation: AmazonConfirmation | None = None
    # Set when the carrier publishes no format the number could be checked against
    # (``carriers.warning``): the number was accepted, the seller should check it.
    tracking_warning: str | None = None
    # When the seller gave this carrier and number (None in documents written before it was
    # kept: ``confirmed_at`` then), and what the carrier has said of the parcel since.
    tracking_given_at: datetime | None = None
    scans: list[Scan] = field(default_factory=list)
    first_scan_at: datetime | None = None
    delivered_at: datetime | None = None

    @property
    def tracking_since(self) -> datetime:
        return self.tracking_given_at or self.confirmed_at

    def record_scan(self, status: str, occurred_at: datetime, now: datetime) -> bool:
        """Keep one carrier scan; False when it is a repeat (same status at the same moment)
        or older than every scan kept and changing nothing."""
        if any(s.status == status and s.occurred_at == occurred_at for s in self.scans):
            return False
        changed = self._summarise(status, occurred_at)
        scans = sorted([*self.scans, Scan(status, occurred_at, now)], key=lambda s: s.occurred_at)
        kept = scans[-MAX_SCANS:]
        if len(kept) == len(self.scans) and kept == self.scans and not changed:
            return False
        self.scans = kept
        return True

    def _summarise(self, status: str, at: datetime) -> bool:
        changed = False
        if status != NOT_A_SCAN and (self.first_scan_at is None or at < self.first_scan_at):
            self.first_scan_at, changed = at, True
        if status == DELIVERED and (self.delivered_at is None or at < self.delivered_at):
            self.delivered_at, changed = at, True
        return changed

    def new_tracking(self, now: datetime) -> None:
        """The carrier or number changed: what the carrier said was of another parcel."""
        self.tracking_given_at = now
        self.scans, self.first_scan_at, self.delivered_at = [], None, None

    def note_amazon_confirmation(self, confirmation: AmazonConfirmation) -> bool:
        """Keep Amazon's answer unless a newer one is held; not an order change (no version
        bump, no event): it is what Amazon said, not what the seller did."""
        if not confirmation.supersedes(self.amazon_confirmation):
            return False
        self.amazon_confirmation = confirmation
        return True


@dataclass(frozen=True)
class RefundLine:
    order_item_id: str
    amount: Decimal
    quantity: int = 0


@dataclass
class Refund:
    refund_id: str
    reason: str
    lines: tuple[RefundLine, ...]
    total: Decimal
    currency_code: str
    refunded_at: datetime
    return_id: str | None = None
    amazon: AmazonFeedAnswer | None = None

    def note_amazon(self, answer: AmazonFeedAnswer) -> bool:
        """Keep Amazon's answer unless a newer one is held (not an order change, like a
        shipment's ``amazon_confirmation``)."""
        if not answer.supersedes(self.amazon):
            return False
        self.amazon = answer
        return True


@dataclass
class Return:
    return_id: str
    rma_id: str
    items: tuple[ItemQuantity, ...]
    authorized_at: datetime
    reason: str | None = None
    received_at: datetime | None = None
    refund_id: str | None = None


@dataclass
class Pickup:
    pickup_id: str
    carrier_code: str
    window_start: datetime
    window_end: datetime
    scheduled_at: datetime


@dataclass
class Cancellation:
    reason: str
    buyer_requested: bool
    canceled_by: str
    canceled_at: datetime
    amazon: AmazonFeedAnswer | None = None

    def note_amazon(self, answer: AmazonFeedAnswer) -> bool:
        """Keep Amazon's answer unless a newer one is held (not an order change, like a
        shipment's ``amazon_confirmation``)."""
        if not answer.supersedes(self.amazon):
            return False
        self.amazon = answer
        return True


@dataclass(frozen=True)
class ShipByClock:
    latest_ship_date: datetime | None
    running: bool
    due_in_seconds: int | None
    overdue_by_seconds: int | None
    flagged_late: bool


@dataclass(frozen=True)
class RefundRequest:
    order_item_id: str
    amount: Decimal
    quantity: int = 0
