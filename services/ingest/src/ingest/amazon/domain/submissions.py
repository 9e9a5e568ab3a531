"""What Orderflow sends to Amazon, of every kind, as one record: an Amazon submission.

Kinds and how each travels (docs/adr/0046-amazon-submissions.md):

- ``shipment_confirmation``: Orders v0 ``confirmShipment``, one call per row
  (``ingest.amazon.domain.confirmations``: its body, skip reasons and back-off).
- ``cancellation``: an ``OrderAcknowledgement`` message with ``CancelReason`` in a
  ``POST_ORDER_ACKNOWLEDGEMENT_DATA`` feed (``ingest.amazon.domain.feed_messages``).
- ``adjustment``: an ``OrderAdjustment`` message (refunds, per item and price component) in a
  ``POST_PAYMENT_ADJUSTMENT_DATA`` feed.

States of a feed message (every change goes through ``transition``)::

    pending   --submit--> submitted   in a feed (its feed id and message id kept)
    submitted --accept--> accepted    the processing report has no error for it
    submitted --fail----> failed      an error for it (Amazon's code and description kept),
                                      or the feed ended FATAL / CANCELLED
    pending   --fail----> failed      refused before it reached a feed (createFeed 4xx,
                                      the connection gone)
    pending   --defer---> pending     429, 5xx or network: tried again at next_attempt_at
    failed    --retry---> pending     an operator or the seller asks to send it again
    skipped                           never sent: FBA, no active connection, canceled by Amazon

Shipment confirmations keep their own table of transitions (pending -> sent | failed).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Any

from ingest.amazon.domain.errors import InvalidTransition
from ingest.amazon.domain.feed_messages import (
    ORDER_ACKNOWLEDGEMENT_FEED,
    PAYMENT_ADJUSTMENT_FEED,
    AdjustedItem,
    Component,
    InvalidFeedMessage,
    OrderAdjustment,
    OrderCancellation,
    acknowledgement_feed,
    adjustment_feed,
)


class Kind(StrEnum):
    SHIPMENT_CONFIRMATION = "shipment_confirmation"
    CANCELLATION = "cancellation"
    ADJUSTMENT = "adjustment"


FEED_TYPES: dict[Kind, str] = {
    Kind.CANCELLATION: ORDER_ACKNOWLEDGEMENT_FEED,
    Kind.ADJUSTMENT: PAYMENT_ADJUSTMENT_FEED,
}


class Status(StrEnum):
    PENDING = "pending"
    SUBMITTED = "submitted"
    SENT = "sent"  # a shipment confirmation Amazon answered 204
    ACCEPTED = "accepted"  # a feed message the processing report accepted
    FAILED = "failed"
    SKIPPED = "skipped"


class Action(StrEnum):
    SUBMIT = "submit"
    ACCEPT = "accept"
    FAIL = "fail"
    DEFER = "defer"
    RETRY = "retry"


TRANSITIONS: dict[tuple[Status, Action], Status] = {
    (Status.PENDING, Action.SUBMIT): Status.SUBMITTED,
    (Status.PENDING, Action.FAIL): Status.FAILED,
    (Status.PENDING, Action.DEFER): Status.PENDING,
    (Status.SUBMITTED, Action.ACCEPT): Status.ACCEPTED,
    (Status.SUBMITTED, Action.FAIL): Status.FAILED,
    (Status.FAILED, Action.RETRY): Status.PENDING,
}


def transition(status: Status, action: Action) -> Status:
    target = TRANSITIONS.get((status, action))
    if target is None:
        if action is Action.RETRY:
            raise InvalidTransition(
                f"Only a failed submission can be retried; this one is {status.value}."
            )
        raise InvalidTransition(f"A {status.value} submission cannot be marked {action.value}.")
    return target


# -- deciding when a batch goes -------------------------------------------------------------


@dataclass(frozen=True)
class Waiting:
    """The pending messages of one (seller, marketplace, feed type): how many, since when."""

    count: int
    oldest: datetime


def batch_due(waiting: Waiting, *, now: datetime, batch_size: int, max_wait: timedelta) -> bool:
    """A feed goes out when a full batch waits, or when the oldest message has waited long
    enough: createFeed's bucket (burst 15, one per 2 minutes) then holds however many actions
    sellers take (docs/adr/0046-amazon-submissions.md)."""
    return waiting.count >= batch_size or now - waiting.oldest >= max_wait


# -- the messages ----------------------------------------------------------------------------
# A row's payload holds the message without its MessageID (given when the feed is built):
#   cancellation: {"amazon_order_id", "reason", "item_codes": [...]}
#   adjustment:   {"amazon_order_id", "currency", "items": [{"item_code", "reason",
#                  "components": [{"type", "amount"}], "quantity_cancelled"}]}


def cancellation_payload(
    amazon_order_id: str, reason: str, item_codes: list[str]
) -> dict[str, Any]:
    OrderCancellation(1, amazon_order_id, reason, tuple(item_codes))  # refuses what Amazon would
    return {"amazon_order_id": amazon_order_id, "reason": reason, "item_codes": item_codes}


def adjustment_payload(
    amazon_order_id: str, currency: str, items: list[AdjustedItem]
) -> dict[str, Any]:
    OrderAdjustment(1, amazon_order_id, currency, tuple(items))
    return {
        "amazon_order_id": amazon_order_id,
        "currency": currency,
        "items": [
            {
                "item_code": i.amazon_order_item_code,
                "reason": i.reason,
                "components": [{"type": c.type, "amount": str(c.amount)} for c in i.components],
                "quantity_cancelled": i.quantity_cancelled,
            }
            for i in items
        ],
    }


def message_of(
    feed_type: str, message_id: int, payload: dict[str, Any]
) -> OrderCancellation | OrderAdjustment:
    """One row's message, numbered for its feed; ``InvalidFeedMessage`` when Amazon's schema
    would refuse it (or the payload is not one)."""
    try:
        if feed_type == ORDER_ACKNOWLEDGEMENT_FEED:
            return OrderCancellation(
                message_id,
                payload["amazon_order_id"],
                payload["reason"],
                tuple(payload["item_codes"]),
            )
        if feed_type == PAYMENT_ADJUSTMENT_FEED:
            items = tuple(
                AdjustedItem(
                    i["item_code"],
                    i["reason"],
                    tuple(Component(c["type"], Decimal(c["amount"])) for c in i["components"]),
                    i.get("quantity_cancelled"),
                )
                for i in payload["items"]
            )
            return OrderAdjustment(
                message_id, payload["amazon_order_id"], payload["currency"], items
            )
    except (KeyError, TypeError, ArithmeticError) as exc:
        raise InvalidFeedMessage(f"not a {feed_type} message: {exc!r}") from None
    raise InvalidFeedMessage(f"not a feed ingest sends: {feed_type}")


def feed_document(
    feed_type: str, merchant_id: str, messages: list[OrderCancellation | OrderAdjustment]
) -> bytes:
    """The feed of these messages (their MessageIDs unique within it)."""
    if feed_type == ORDER_ACKNOWLEDGEMENT_FEED:
        return acknowledgement_feed(
            merchant_id, [m for m in messages if isinstance(m, OrderCancellation)]
        )
    return adjustment_feed(merchant_id, [m for m in messages if isinstance(m, OrderAdjustment)])
