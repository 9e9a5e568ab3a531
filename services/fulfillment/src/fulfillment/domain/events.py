"""What happened to an order here; each is published on fulfillment.v1 with its version."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fulfillment.domain.values import Cancellation, Pickup, Refund, Return, Scan, Shipment


@dataclass(kw_only=True)
class Event:
    version: int = 0


@dataclass(kw_only=True)
class ShipmentConfirmed(Event):
    shipment: Shipment


@dataclass(kw_only=True)
class ShipmentUpdated(Event):
    shipment: Shipment


@dataclass(kw_only=True)
class OrderCanceled(Event):
    cancellation: Cancellation


@dataclass(kw_only=True)
class RefundIssued(Event):
    refund: Refund


@dataclass(kw_only=True)
class ReturnAuthorized(Event):
    ret: Return


@dataclass(kw_only=True)
class ReturnReceived(Event):
    ret: Return


@dataclass(kw_only=True)
class OrderShippedLate(Event):
    latest_ship_date: datetime
    flagged_at: datetime


@dataclass(kw_only=True)
class PickupScheduled(Event):
    pickup: Pickup


@dataclass(kw_only=True)
class ShipmentScanned(Event):
    shipment: Shipment
    scan: Scan
