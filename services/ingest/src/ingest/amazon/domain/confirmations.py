"""Shipment confirmations pushed back to Amazon (SP-API Orders v0 ``confirmShipment``).

Fulfillment confirms (or edits) a shipment and says so on ``fulfillment.v1``; ingest, which
holds the seller's Amazon credentials, records one confirmation per (shipment, fulfillment
version) and a background sender posts it to Amazon, one package per call.

States (every change goes through ``transition``)::

    pending --sent------> sent        Amazon answered 204
    pending --fail------> failed      Amazon refused it (400-class other than 429): its message kept
    pending --defer-----> pending     429, 5xx or network: tried again at next_attempt_at
    failed  --retry-----> pending     an operator or the seller asks to send it again
    skipped                           never sent: FBA (Amazon ships it) or no active connection
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from ingest.amazon.domain.errors import InvalidTransition

OPERATION = "confirmShipment"


class Status(StrEnum):
    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"
    SKIPPED = "skipped"


class Action(StrEnum):
    SENT = "sent"
    FAIL = "fail"
    DEFER = "defer"
    RETRY = "retry"


TRANSITIONS: dict[tuple[Status, Action], Status] = {
    (Status.PENDING, Action.SENT): Status.SENT,
    (Status.PENDING, Action.FAIL): Status.FAILED,
    (Status.PENDING, Action.DEFER): Status.PENDING,
    (Status.FAILED, Action.RETRY): Status.PENDING,
}


def transition(status: Status, action: Action) -> Status:
    target = TRANSITIONS.get((status, action))
    if target is None:
        if action is Action.RETRY:
            raise InvalidTransition(
                f"Only a failed confirmation can be retried; this one is {status.value}."
            )
        raise InvalidTransition(f"A {status.value} confirmation cannot be marked {action.value}.")
    return target


@dataclass(frozen=True)
class ShipmentFacts:
    """What a ``shipment.confirmed`` / ``shipment.updated`` event says, as plain values."""

    seller_id: str
    amazon_order_id: str
    marketplace_id: str | None
    fulfillment_channel: str | None
    shipment_id: str
    carrier_code: str
    carrier_name: str | None
    ship_method: str | None
    tracking_number: str
    ship_date: datetime
    items: Sequence[tuple[str, int]]


def _iso(at: datetime) -> str:
    return at.isoformat().replace("+00:00", "Z")


def confirm_body(facts: ShipmentFacts, marketplace_id: str) -> dict[str, Any]:
    """The ``confirmShipment`` request body: one package, the shipment id as its reference."""
    package: dict[str, Any] = {
        "packageReferenceId": facts.shipment_id,
        "carrierCode": facts.carrier_code,
        "trackingNumber": facts.tracking_number,
        "shipDate": _iso(facts.ship_date),
        "orderItems": [{"orderItemId": i, "quantity": q} for i, q in facts.items],
    }
    if facts.carrier_name:
        package["carrierName"] = facts.carrier_name
    if facts.ship_method:
        package["shippingMethod"] = facts.ship_method
    return {"marketplaceId": marketplace_id, "packageDetail": package}


def skip_reason(facts: ShipmentFacts, connection: Any | None) -> str | None:
    """Why this shipment is not confirmed to Amazon (None: it is)."""
    if facts.fulfillment_channel == "AFN":
        return "Fulfilled by Amazon (AFN): Amazon confirms its own shipments."
    if connection is None:
        return f"Seller {facts.seller_id} has no active SP-API connection."
    return None


def retry_at(
    now: datetime, attempts: int, *, base: float, cap: float, rand: Callable[[], float]
) -> datetime:
    """When to try again after ``attempts`` transient failures: jittered exponential back-off."""
    delay = min(cap, base * 2.0 ** max(attempts - 1, 0)) * (0.5 + rand() / 2)
    return now + timedelta(seconds=delay)


def error_text(errors: Any, status: int) -> str:
    """Amazon's error list (``[{code, message, details}]``) as one readable line."""
    if isinstance(errors, list) and errors:
        parts = []
        for e in errors:
            if isinstance(e, dict):
                code, message = e.get("code"), e.get("message")
                details = e.get("details")
                text = ": ".join(str(x) for x in (code, message) if x)
                parts.append(f"{text} ({details})" if details else text)
        if parts:
            return f"HTTP {status}: " + "; ".join(parts)
    return f"HTTP {status}: {errors}"[:1000]
