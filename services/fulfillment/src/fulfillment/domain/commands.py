"""Commands: what a seller (or a system acting for one) asks fulfillment to do."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from fulfillment.domain.model import ItemQuantity, RefundRequest


@dataclass(frozen=True, kw_only=True)
class Command:
    amazon_order_id: str
    seller_id: str


@dataclass(frozen=True, kw_only=True)
class ConfirmShipment(Command):
    carrier_code: str
    tracking_number: str
    ship_date: datetime
    items: tuple[ItemQuantity, ...] | None = None
    carrier_name: str | None = None
    ship_method: str | None = None
    is_buy_shipping: bool = False


@dataclass(frozen=True, kw_only=True)
class EditShipment(Command):
    shipment_id: str
    carrier_code: str | None = None
    carrier_name: str | None = None
    ship_method: str | None = None
    tracking_number: str | None = None


@dataclass(frozen=True, kw_only=True)
class RecordTrackingEvent:
    """A carrier's scan of a parcel (from the carrier or an aggregator's webhook): it names
    the parcel by carrier and tracking number, not by order."""

    seller_id: str
    carrier_code: str
    tracking_number: str
    status: str
    occurred_at: datetime


@dataclass(frozen=True, kw_only=True)
class CancelOrder(Command):
    reason: str


@dataclass(frozen=True, kw_only=True)
class IssueRefund(Command):
    reason: str
    items: tuple[RefundRequest, ...] | None = None


@dataclass(frozen=True, kw_only=True)
class AuthorizeReturn(Command):
    items: tuple[ItemQuantity, ...]
    rma_id: str | None = None
    reason: str | None = None


@dataclass(frozen=True, kw_only=True)
class ReceiveReturn(Command):
    return_id: str
    refund: bool = False
    refund_reason: str = "CustomerReturn"


@dataclass(frozen=True, kw_only=True)
class SchedulePickup(Command):
    carrier_code: str
    window_start: datetime
    window_end: datetime
