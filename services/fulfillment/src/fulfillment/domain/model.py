"""The order as fulfillment holds it: Amazon's fields plus what the seller did here.

``Order`` is the aggregate. Amazon's side arrives as a newer ``Order`` built from an orders.v1
snapshot and is merged with ``merge_amazon``; seller commands are methods. Every status change
goes through ``state_machine``; every change bumps ``version`` (fulfillment's own, per order)
and what must be announced is recorded in ``events`` with the version it produced.
Times come from the caller (``now``), so deadline rules are testable with a fixed clock.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from fulfillment.domain import carriers
from fulfillment.domain import events as ev
from fulfillment.domain import state_machine as sm
from fulfillment.domain.errors import (
    BuyerPIIRemoved,
    FulfilledByAmazon,
    InvalidInput,
    QuantityExceeded,
    RefundExceedsPaid,
    ReturnNotFound,
    RuleViolation,
    ShipmentNotFound,
)
from fulfillment.domain.state_machine import Action, Status
from fulfillment.domain.values import (
    AmazonFeedAnswer,
    Cancellation,
    Item,
    ItemQuantity,
    Pickup,
    Refund,
    RefundLine,
    RefundRequest,
    Return,
    Scan,
    ShipByClock,
    Shipment,
)
from shared.events.fulfillment import SCAN_STATUSES

__all__ = [
    "AmazonFeedAnswer",
    "Cancellation",
    "Item",
    "ItemQuantity",
    "Order",
    "Pickup",
    "Refund",
    "RefundLine",
    "RefundRequest",
    "Return",
    "Scan",
    "ShipByClock",
    "Shipment",
]

CENT = Decimal("0.01")
CANCEL_REASONS = (
    "NoInventory",
    "ShippingAddressUndeliverable",
    "CustomerExchange",
    "BuyerCanceled",
    "GeneralAdjustment",
    "CarrierCoverageFailure",
    "PricingError",
)
ADJUSTMENT_REASONS = (
    "NoInventory",
    "CustomerReturn",
    "GeneralAdjustment",
    "CouldNotShip",
    "DifferentItem",
    "CustomerCancel",
    "PriceError",
    "Exchange",
    "Other",
)
AWAITING_SHIPMENT = (Status.UNSHIPPED, Status.PARTIALLY_SHIPPED)
SHIP_DATE_SKEW = timedelta(minutes=5)
MAX_PICKUP_WINDOW = timedelta(days=1)


@dataclass
class Order:
    amazon_order_id: str
    seller_id: str
    status: Status
    amazon_status: Status
    snapshot_version: int
    purchase_date: datetime
    last_update_date: datetime
    fulfillment_channel: str | None = None
    marketplace_id: str | None = None
    sales_channel: str | None = None
    ship_service_level: str | None = None
    shipment_service_level_category: str | None = None
    order_type: str | None = None
    earliest_ship_date: datetime | None = None
    latest_ship_date: datetime | None = None
    earliest_delivery_date: datetime | None = None
    latest_delivery_date: datetime | None = None
    order_total: Decimal | None = None
    currency_code: str | None = None
    is_prime: bool = False
    is_business_order: bool = False
    is_replacement_order: bool = False  # sent free in place of ``replaced_order_id``
    replaced_order_id: str | None = None
    is_buyer_requested_cancel: bool = False
    buyer_cancel_reason: str | None = None
    ship_to: dict[str, Any] | None = None
    buyer_pii: dict[str, Any] | None = None
    buyer_email_hash: str | None = None
    pii_removed_at: datetime | None = None  # buyer PII removed after PII_RETENTION_DAYS
    items: list[Item] = field(default_factory=list)
    version: int = 0
    shipments: list[Shipment] = field(default_factory=list)
    refunds: list[Refund] = field(default_factory=list)
    returns: list[Return] = field(default_factory=list)
    pickups: list[Pickup] = field(default_factory=list)
    cancellation: Cancellation | None = None
    flagged_late_at: datetime | None = None
    # What happened since the order was loaded, to announce. Never stored: the document
    # codec (orjson) leaves out attributes whose names start with an underscore.
    _events: list[ev.Event] = field(default_factory=list, compare=False, repr=False)

    @property
    def events(self) -> list[ev.Event]:
        return self._events

    # ---- what the order is ---------------------------------------------------------------
    @property
    def is_fba(self) -> bool:
        return self.fulfillment_channel == "AFN"

    def item(self, order_item_id: str, field_name: str) -> Item:
        for item in self.items:
            if item.order_item_id == order_item_id:
                return item
        raise InvalidInput(field_name, f"order {self.amazon_order_id} has no item {order_item_id}")

    def refunded_total(self) -> Decimal:
        return sum((r.total for r in self.refunds), Decimal("0"))

    def refunded_for(self, order_item_id: str) -> Decimal:
        lines = (line for r in self.refunds for line in r.lines)
        return sum((x.amount for x in lines if x.order_item_id == order_item_id), Decimal("0"))

    def clock(self, now: datetime) -> ShipByClock:
        lsd = self.latest_ship_date
        running = not self.is_fba and self.status in AWAITING_SHIPMENT and lsd is not None
        left = int((lsd - now).total_seconds()) if running and lsd else None
        return ShipByClock(
            latest_ship_date=lsd,
            running=running,
            due_in_seconds=left if left is not None and left >= 0 else None,
            overdue_by_seconds=-left if left is not None and left < 0 else None,
            flagged_late=self.flagged_late_at is not None,
        )

    def allowed_actions(self) -> list[str]:
        if self.is_fba:
            return []
        names: list[str] = []
        for action in sm.allowed(self.status):
            if action in (Action.FLAG_LATE, Action.SHIP_PART):
                continue
            if action is Action.EDIT_SHIPMENT and not self.shipments:
                continue
            if action is Action.RECEIVE_RETURN and not self._open_returns():
                continue
            names.append(action.value)
        return names

    def _open_returns(self) -> list[Return]:
        return [r for r in self.returns if r.received_at is None]

    # ---- versioning ----------------------------------------------------------------------
    def _record(self, event: ev.Event) -> None:
        self.version += 1
        event.version = self.version
        self.events.append(event)

    def _seller_action(self, action: Action) -> Status:
        if self.is_fba:
            raise FulfilledByAmazon(sm.describe(action), self.status.value)
        return sm.transition(self.status, action)

    # ---- Amazon's side -------------------------------------------------------------------
    def takes(self, snapshot_version: int) -> bool:
        """A snapshot of this version is newer than the one held (else it is stale)."""
        return snapshot_version > self.snapshot_version

    def merge_amazon(self, newer: Order, now: datetime) -> bool:
        """Take a newer snapshot's fields; keep what the seller did here. False when stale."""
        if not self.takes(newer.snapshot_version):
            return False
        shipped = {i.order_item_id: i.quantity_shipped for i in self.items}
        for name in _AMAZON_FIELDS:
            setattr(self, name, getattr(newer, name))
        if self.pii_removed_at is not None:  # removed for good: a later snapshot brings no PII
            self.buyer_pii, self.buyer_email_hash = None, None
        self.items = [
            replace(i, quantity_shipped=max(i.quantity_shipped, shipped.get(i.order_item_id, 0)))
            for i in newer.items
        ]
        before = self.status
        if self.is_fba and newer.amazon_status in sm.AMAZON_MOVES[before]:
            self.status = sm.amazon_transition(before, newer.amazon_status)
        else:
            self.status = sm.merge_amazon_status(before, newer.amazon_status)
        if self.status is Status.CANCELED and before is not Status.CANCELED:
            self._canceled_by_amazon(now)
        else:
            self.version += 1
        return True

    def arrived(self, now: datetime) -> None:
        """A new order from its first snapshot: version 1, order.canceled if it came canceled."""
        if self.status is Status.CANCELED:
            self._canceled_by_amazon(now)
        else:
            self.version += 1

    def _canceled_by_amazon(self, now: datetime) -> None:
        buyer = self.is_buyer_requested_cancel
        self.cancellation = Cancellation(
            reason="BuyerCanceled" if buyer else (self.buyer_cancel_reason or "CanceledByAmazon"),
            buyer_requested=buyer,
            canceled_by="buyer" if buyer else "amazon",
            canceled_at=now,
        )
        self._record(ev.OrderCanceled(cancellation=self.cancellation))

    # ---- shipments -----------------------------------------------------------------------
    def confirm_shipment(
        self,
        *,
        shipment_id: str,
        carrier_code: str,
        tracking_number: str,
        ship_date: datetime,
        items: list[ItemQuantity] | None,
        now: datetime,
        carrier_name: str | None = None,
        ship_method: str | None = None,
        is_buy_shipping: bool = False,
    ) -> tuple[Shipment, bool]:
        """Confirm a (partial) shipment; (shipment, False) when the same one exists already."""
        carrier_code, tracking_number = _carrier(carrier_code, carrier_name, tracking_number)
        same = self._same_shipment(tracking_number, items)
        if same is not None:
            return same, False
        self._seller_action(Action.SHIP_PART)
        lines = self._lines_to_ship(items)
        self._check_ship_date(ship_date, now)
        for line in lines:
            self.item(line.order_item_id, "items").quantity_shipped += line.quantity
        done = all(i.unshipped == 0 for i in self.items)
        self.status = sm.transition(self.status, Action.SHIP_ALL if done else Action.SHIP_PART)
        shipment = Shipment(
            shipment_id=shipment_id,
            carrier_code=carrier_code,
            carrier_name=carrier_name,
            ship_method=ship_method,
            tracking_number=tracking_number,
            ship_date=ship_date,
            items=tuple(lines),
            confirmed_at=now,
            on_time=self.latest_ship_date is None or now <= self.latest_ship_date,
            valid_tracking=carriers.tracking_valid(carrier_code, tracking_number),
            tracking_warning=carriers.warning(carrier_code, tracking_number),
            is_buy_shipping=is_buy_shipping,
            tracking_given_at=now,
        )
        self.shipments.append(shipment)
        self._record(ev.ShipmentConfirmed(shipment=shipment))
        return shipment, True

    def _same_shipment(self, tracking: str, items: list[ItemQuantity] | None) -> Shipment | None:
        wanted = None if items is None else sorted((i.order_item_id, i.quantity) for i in items)
        for shipment in self.shipments:
            have = sorted((i.order_item_id, i.quantity) for i in shipment.items)
            if shipment.tracking_number == tracking and wanted in (None, have):
                return shipment
        return None

    def _lines_to_ship(self, items: list[ItemQuantity] | None) -> list[ItemQuantity]:
        if items is None:
            return [ItemQuantity(i.order_item_id, i.unshipped) for i in self.items if i.unshipped]
        if not items:
            raise InvalidInput("items", "list at least one item, or omit items to ship all")
        ids = [i.order_item_id for i in items]
        if len(set(ids)) != len(ids):
            raise InvalidInput("items", "each order_item_id may appear once")
        for line in items:
            item = self.item(line.order_item_id, "items")
            if line.quantity < 1:
                raise InvalidInput("items.quantity", "must be at least 1")
            if line.quantity > item.unshipped:
                raise QuantityExceeded(
                    f"Item {item.order_item_id}: cannot ship {line.quantity}; "
                    f"{item.quantity_ordered} ordered, {item.quantity_shipped} already shipped, "
                    f"{item.unshipped} left to ship."
                )
        return list(items)

    def _check_ship_date(self, ship_date: datetime, now: datetime) -> None:
        if ship_date > now + SHIP_DATE_SKEW:
            raise InvalidInput("ship_date", "must not be in the future")
        if ship_date < self.purchase_date:
            raise InvalidInput(
                "ship_date", f"must not be before the purchase date {self.purchase_date}"
            )

    def edit_shipment(
        self,
        shipment_id: str,
        *,
        now: datetime,
        carrier_code: str | None = None,
        carrier_name: str | None = None,
        ship_method: str | None = None,
        tracking_number: str | None = None,
    ) -> Shipment:
        shipment = next((s for s in self.shipments if s.shipment_id == shipment_id), None)
        if shipment is None:
            raise ShipmentNotFound(shipment_id)
        self._seller_action(Action.EDIT_SHIPMENT)
        name = carrier_name if carrier_name is not None else shipment.carrier_name
        code, number = _carrier(
            carrier_code or shipment.carrier_code, name, tracking_number or shipment.tracking_number
        )
        if (code, number) != (shipment.carrier_code, shipment.tracking_number):
            shipment.new_tracking(now)
        shipment.carrier_code, shipment.tracking_number, shipment.carrier_name = code, number, name
        if ship_method is not None:
            shipment.ship_method = ship_method
        shipment.valid_tracking = carriers.tracking_valid(code, number)
        shipment.tracking_warning = carriers.warning(code, number)
        shipment.updated_at = now
        self._record(ev.ShipmentUpdated(shipment=shipment))
        return shipment

    def record_scan(
        self,
        *,
        carrier_code: str,
        tracking_number: str,
        status: str,
        occurred_at: datetime,
        now: datetime,
    ) -> list[tuple[Shipment, bool]]:
        """A carrier scan of the parcel with this carrier and number: each shipment of the
        order that travels in it, and whether the scan was new to it (a repeat changes nothing
        and announces nothing). Scans do not move the order's status."""
        if status not in SCAN_STATUSES:
            raise InvalidInput("status", f"must be one of {', '.join(SCAN_STATUSES)}")
        if occurred_at > now + SHIP_DATE_SKEW:
            raise InvalidInput("occurred_at", "must not be in the future")
        if occurred_at < self.purchase_date:
            raise InvalidInput(
                "occurred_at", f"must not be before the purchase date {self.purchase_date}"
            )
        found = []
        for shipment in self.shipments_in(carrier_code, tracking_number):
            recorded = shipment.record_scan(status, occurred_at, now)
            if recorded:
                self._record(
                    ev.ShipmentScanned(shipment=shipment, scan=Scan(status, occurred_at, now))
                )
            found.append((shipment, recorded))
        return found

    def shipments_in(self, carrier_code: str, tracking_number: str) -> list[Shipment]:
        """The shipments sent with this carrier and tracking number."""
        return [
            s
            for s in self.shipments
            if s.carrier_code == carrier_code and s.tracking_number == tracking_number
        ]

    # ---- cancellation --------------------------------------------------------------------
    def cancel(self, *, reason: str, now: datetime) -> Cancellation:
        if reason not in CANCEL_REASONS:
            raise InvalidInput("reason", f"must be one of {', '.join(CANCEL_REASONS)}")
        self.status = self._seller_action(Action.CANCEL)
        buyer = reason == "BuyerCanceled" or self.is_buyer_requested_cancel
        self.cancellation = Cancellation(reason, buyer, "seller", now)
        self._record(ev.OrderCanceled(cancellation=self.cancellation))
        return self.cancellation

    # ---- refunds -------------------------------------------------------------------------
    def refund(
        self,
        *,
        refund_id: str,
        reason: str,
        lines: list[RefundRequest] | None,
        now: datetime,
        return_id: str | None = None,
    ) -> Refund:
        """Refund given amounts per item, or everything still refundable (``lines`` None)."""
        if reason not in ADJUSTMENT_REASONS:
            raise InvalidInput("reason", f"must be one of {', '.join(ADJUSTMENT_REASONS)}")
        self._seller_action(Action.REFUND)
        chosen = self._full_refund() if lines is None else self._check_refund_lines(lines)
        total = sum((x.amount for x in chosen), Decimal("0"))
        if total <= 0:
            raise RefundExceedsPaid("Nothing is left to refund on this order.")
        self._check_order_cap(total)
        refund = Refund(
            refund_id=refund_id,
            reason=reason,
            lines=tuple(RefundLine(x.order_item_id, x.amount, x.quantity) for x in chosen),
            total=total,
            currency_code=self.currency_code or "USD",
            refunded_at=now,
            return_id=return_id,
        )
        self.refunds.append(refund)
        self._record(ev.RefundIssued(refund=refund))
        return refund

    def refundable(self, item: Item) -> Decimal | None:
        paid = item.paid
        return None if paid is None else paid - self.refunded_for(item.order_item_id)

    def _full_refund(self) -> list[RefundRequest]:
        lines = [
            RefundRequest(i.order_item_id, left, 0)
            for i in self.items
            if (left := self.refundable(i)) is not None and left > 0
        ]
        if not lines and self.order_total is not None and self.items:
            left = self.order_total - self.refunded_total()
            lines = [RefundRequest(self.items[0].order_item_id, left, 0)] if left > 0 else []
        return lines

    def _check_refund_lines(self, lines: list[RefundRequest]) -> list[RefundRequest]:
        if not lines:
            raise InvalidInput("items", "list at least one item, or omit items to refund all")
        ids = [x.order_item_id for x in lines]
        if len(set(ids)) != len(ids):
            raise InvalidInput("items", "each order_item_id may appear once")
        for line in lines:
            item = self.item(line.order_item_id, "items")
            _check_amount(line.amount, "items.amount")
            if line.quantity < 0 or line.quantity > item.quantity_ordered:
                raise InvalidInput("items.quantity", f"must be 0..{item.quantity_ordered}")
            left = self.refundable(item)
            if left is not None and line.amount > left:
                raise RefundExceedsPaid(
                    f"Item {item.order_item_id}: refund {line.amount} exceeds the {left} still "
                    f"refundable ({item.paid} paid, "
                    f"{self.refunded_for(item.order_item_id)} refunded before)."
                )
        return lines

    def _check_order_cap(self, total: Decimal) -> None:
        paid = self.order_total
        if paid is None:
            known = [i.paid for i in self.items if i.paid is not None]
            paid = sum(known, Decimal("0")) if known else None
        if paid is None:
            raise RefundExceedsPaid("The order carries no prices, so nothing can be refunded.")
        left = paid - self.refunded_total()
        if total > left:
            raise RefundExceedsPaid(
                f"Refund {total} exceeds the {left} still refundable on the order "
                f"({paid} paid, {self.refunded_total()} refunded before)."
            )

    # ---- returns -------------------------------------------------------------------------
    def authorize_return(
        self,
        *,
        return_id: str,
        rma_id: str,
        items: list[ItemQuantity],
        reason: str | None,
        now: datetime,
    ) -> Return:
        self._seller_action(Action.AUTHORIZE_RETURN)
        if not items:
            raise InvalidInput("items", "list at least one item to return")
        for line in items:
            item = self.item(line.order_item_id, "items")
            if line.quantity < 1:
                raise InvalidInput("items.quantity", "must be at least 1")
            returned = self._returned(item.order_item_id)
            if line.quantity > item.quantity_shipped - returned:
                raise QuantityExceeded(
                    f"Item {item.order_item_id}: cannot return {line.quantity}; "
                    f"{item.quantity_shipped} shipped, {returned} already authorised for return."
                )
        ret = Return(return_id, rma_id, tuple(items), now, reason)
        self.returns.append(ret)
        self._record(ev.ReturnAuthorized(ret=ret))
        return ret

    def _returned(self, order_item_id: str) -> int:
        lines = (line for r in self.returns for line in r.items)
        return sum(x.quantity for x in lines if x.order_item_id == order_item_id)

    def receive_return(
        self,
        return_id: str,
        *,
        now: datetime,
        refund_id: str | None = None,
        refund_reason: str = "CustomerReturn",
    ) -> tuple[Return, Refund | None]:
        """Mark a return received; with ``refund_id``, refund the returned units as well."""
        ret = next((r for r in self.returns if r.return_id == return_id), None)
        if ret is None:
            raise ReturnNotFound(return_id)
        self._seller_action(Action.RECEIVE_RETURN)
        if ret.received_at is not None:
            raise RuleViolation(f"Return {return_id} was already received at {ret.received_at}.")
        ret.received_at = now
        self._record(ev.ReturnReceived(ret=ret))
        if refund_id is None:
            return ret, None
        refund = self.refund(
            refund_id=refund_id,
            reason=refund_reason,
            lines=self._return_refund_lines(ret),
            now=now,
            return_id=return_id,
        )
        ret.refund_id = refund.refund_id
        return ret, refund

    def _return_refund_lines(self, ret: Return) -> list[RefundRequest]:
        lines = []
        for line in ret.items:
            item = self.item(line.order_item_id, "items")
            left, paid = self.refundable(item), item.paid
            if left is None or paid is None or item.quantity_ordered == 0:
                continue
            share = (paid * line.quantity / item.quantity_ordered).quantize(CENT)
            if min(share, left) > 0:
                lines.append(RefundRequest(item.order_item_id, min(share, left), line.quantity))
        return lines

    # ---- pickups, packing slips, ship-by clock -----------------------------------------
    def schedule_pickup(
        self,
        *,
        pickup_id: str,
        carrier_code: str,
        window_start: datetime,
        window_end: datetime,
        now: datetime,
    ) -> Pickup:
        self._seller_action(Action.SCHEDULE_PICKUP)
        if not carrier_code.strip():
            raise InvalidInput("carrier_code", "required")
        if window_start <= now:
            raise InvalidInput("window_start", "must be in the future")
        if window_end <= window_start:
            raise InvalidInput("window_end", "must be after window_start")
        if window_end - window_start > MAX_PICKUP_WINDOW:
            raise InvalidInput("window_end", "a pickup window is at most 1 day long")
        pickup = Pickup(pickup_id, carriers.canonical(carrier_code), window_start, window_end, now)
        self.pickups.append(pickup)
        self._record(ev.PickupScheduled(pickup=pickup))
        return pickup

    def check_packing_slip(self) -> None:
        self._seller_action(Action.PRINT_PACKING_SLIP)
        if self.pii_removed_at is not None:
            raise BuyerPIIRemoved(self.amazon_order_id, self.pii_removed_at.date().isoformat())

    def flag_late(self, now: datetime) -> bool:
        """Flag the order late once, when unshipped past its LatestShipDate."""
        lsd = self.latest_ship_date
        if self.is_fba or self.flagged_late_at is not None or lsd is None or now <= lsd:
            return False
        if self.status not in AWAITING_SHIPMENT:
            return False
        self.status = sm.transition(self.status, Action.FLAG_LATE)
        self.flagged_late_at = now
        self._record(ev.OrderShippedLate(latest_ship_date=lsd, flagged_at=now))
        return True


_AMAZON_FIELDS = (
    "amazon_status",
    "snapshot_version",
    "purchase_date",
    "last_update_date",
    "fulfillment_channel",
    "marketplace_id",
    "sales_channel",
    "ship_service_level",
    "shipment_service_level_category",
    "order_type",
    "earliest_ship_date",
    "latest_ship_date",
    "earliest_delivery_date",
    "latest_delivery_date",
    "order_total",
    "currency_code",
    "is_prime",
    "is_business_order",
    "is_replacement_order",
    "replaced_order_id",
    "is_buyer_requested_cancel",
    "buyer_cancel_reason",
    "ship_to",
    "buyer_pii",
    "buyer_email_hash",
)


def _carrier(code: str, name: str | None, tracking: str) -> tuple[str, str]:
    code = carriers.canonical(code)
    if not code:
        raise InvalidInput("carrier_code", "required")
    if code == carriers.OTHER and not (name or "").strip():
        raise InvalidInput("carrier_name", "required when carrier_code is Other")
    number = carriers.normalise_tracking(tracking)
    if not number:
        raise InvalidInput("tracking_number", "required")
    refused = carriers.refusal(code, number)
    if refused is not None:
        raise InvalidInput("tracking_number", refused)
    return code, number


def _check_amount(amount: Decimal, field_name: str) -> None:
    if amount <= 0:
        raise InvalidInput(field_name, "must be greater than 0")
    if amount != amount.quantize(CENT):
        raise InvalidInput(field_name, "at most 2 decimal places")
