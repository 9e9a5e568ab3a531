"""Cancellations and refunds sent to Amazon as feed messages: record, list, retry.

Fulfillment announces ``order.canceled`` and ``refund.issued`` on ``fulfillment.v1``; the
handlers here record one ``amazon_submissions`` row per action (a cancellation per order, an
adjustment per refund id) in the consumer's transaction, with its inbox row: a redelivered
event (same event id) is stopped by the inbox, the same refund under another event id by the
unique (kind, seller, reference). Skipped with the reason, as shipment confirmations are: FBA
orders, sellers without an active connection, and cancellations Amazon made itself (by Amazon,
or by the buyer at Amazon: nothing to tell it). ``feed_sender`` sends the pending rows in
feeds and reads their reports. The caller commits (the consumer runner, the API's request).

Listing, reading and retry cover every kind, or one (``kind``): the shipment confirmations'
API is the ``shipment_confirmation`` view of these; their retry keeps its own rule (a newer
version of the shipment is retried instead, ``confirmations.reopen``).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from ingest.amazon.domain import submissions as ds
from ingest.amazon.domain.errors import ConfirmationNotFound, SubmissionNotFound
from ingest.amazon.domain.feed_messages import (
    AdjustedItem,
    Component,
    InvalidFeedMessage,
    cancel_reason,
)
from ingest.amazon.domain.submissions import Action, Kind, Status
from ingest.amazon.service_layer import confirmations
from ingest.amazon.service_layer.unit_of_work import GatewayUnitOfWork as UnitOfWork
from ingest.amazon.service_layer.unit_of_work import SubmissionView
from shared.events import fulfillment as fev

log = logging.getLogger(__name__)


# -- recording (the fulfillment.v1 handlers) ------------------------------------------------


def _skip_reason(
    seller_id: str, channel: str | None, connection: Any | None, canceled_by: str | None
) -> str | None:
    if channel == "AFN":
        return "Fulfilled by Amazon (AFN): Amazon handles its own cancellations and refunds."
    if canceled_by is not None and canceled_by != "seller":
        return f"Canceled at Amazon (by the {canceled_by}): nothing to send back."
    if connection is None:
        return f"Seller {seller_id} has no active SP-API connection."
    return None


async def _record(
    uow: UnitOfWork,
    payload: fev.OrderCanceled | fev.RefundIssued,
    *,
    version: int,
    event_type: str,
    kind: Kind,
    reference: str,
    build: Callable[[dict[str, Any]], dict[str, Any]],
    canceled_by: str | None = None,
) -> Status | None:
    """Record one feed message this event asks for; None when recorded already."""
    repo = uow.submissions
    snapshot = await repo.order_snapshot(payload.amazon_order_id)
    channel = payload.fulfillment_channel or snapshot.get("fulfillment_channel")
    connection = await repo.active_connection(payload.seller_id, payload.marketplace_id)
    marketplace = payload.marketplace_id or snapshot.get("marketplace_id")
    if marketplace is None and connection is not None:
        marketplace = connection.marketplace_ids[0]
    reason = _skip_reason(payload.seller_id, channel, connection, canceled_by)
    status, body = Status.SKIPPED, {}
    if reason is None:
        try:
            status, body = Status.PENDING, build(snapshot)
        except InvalidFeedMessage as exc:  # nothing Amazon would take: failed, for the operator
            status, reason = Status.FAILED, f"Cannot be sent to Amazon: {exc}"
    added = await repo.add_referenced(
        id=uuid.uuid4(),
        kind=kind.value,
        seller_id=payload.seller_id,
        amazon_order_id=payload.amazon_order_id,
        reference=reference,
        version=version,
        event_type=event_type,
        connection_id=connection.id if connection is not None else None,
        marketplace_id=marketplace,
        feed_type=ds.FEED_TYPES[kind],
        payload=body,
        status=status.value,
        last_error=reason,
    )
    if not added:
        return None
    log.info(
        "amazon submission recorded",
        extra={"kind": kind.value, "reference": reference, "status": status.value},
    )
    return status


def _item_codes(snapshot: dict[str, Any]) -> list[str]:
    return [str(i["order_item_id"]) for i in snapshot.get("items") or [] if i.get("order_item_id")]


async def record_cancellation(
    uow: UnitOfWork, payload: fev.OrderCanceled, *, version: int, event_type: str
) -> Status | None:
    def build(snapshot: dict[str, Any]) -> dict[str, Any]:
        reason = cancel_reason(payload.reason, buyer_requested=payload.buyer_requested)
        codes = _item_codes(snapshot)
        if not codes:
            raise InvalidFeedMessage("ingest holds no items of this order (AmazonOrderItemCode)")
        return ds.cancellation_payload(payload.amazon_order_id, reason, codes)

    return await _record(
        uow,
        payload,
        version=version,
        event_type=event_type,
        kind=Kind.CANCELLATION,
        reference=payload.amazon_order_id,
        build=build,
        canceled_by=payload.canceled_by,
    )


def _components(item: fev.RefundItem) -> tuple[Component, ...]:
    """The refunded price components of one item: as fulfillment broke them out, else the
    whole amount as Principal."""
    if item.components:
        return tuple(Component(c.type, c.amount.amount) for c in item.components)
    return (Component("Principal", item.amount.amount),)


async def record_refund(
    uow: UnitOfWork, payload: fev.RefundIssued, *, version: int, event_type: str
) -> Status | None:
    def build(snapshot: dict[str, Any]) -> dict[str, Any]:
        items = [
            AdjustedItem(i.order_item_id, payload.reason, _components(i)) for i in payload.items
        ]
        return ds.adjustment_payload(payload.amazon_order_id, payload.total.currency_code, items)

    return await _record(
        uow,
        payload,
        version=version,
        event_type=event_type,
        kind=Kind.ADJUSTMENT,
        reference=payload.refund_id,
        build=build,
    )


# -- reading and retrying ----------------------------------------------------------------------


def _view(uow: UnitOfWork, kind: Kind | None) -> SubmissionView:
    """The rows of one kind (None: every kind); the shipment confirmations' repository is
    the ``shipment_confirmation`` view already."""
    if kind is None:
        return uow.submissions
    if kind is Kind.SHIPMENT_CONFIRMATION:
        return uow.confirmations
    return uow.submissions_of(kind.value)


def _not_found(submission_id: uuid.UUID, kind: Kind | None) -> Exception:
    if kind is Kind.SHIPMENT_CONFIRMATION:
        return ConfirmationNotFound(f"No shipment confirmation {submission_id} for this seller.")
    return SubmissionNotFound(f"No Amazon submission {submission_id} for this seller.")


async def page(
    uow: UnitOfWork,
    *,
    seller_id: str | None,
    kind: Kind | None,
    status: StrEnum | None,
    amazon_order_id: str | None,
    after: tuple[datetime, uuid.UUID] | None,
    limit: int,
) -> list[Any]:
    """A page of the rows of one kind (None: every kind), oldest first; ``status`` is the
    kind's (a shipment confirmation's ``Status`` or this module's)."""
    return await _view(uow, kind).page(
        seller_id=seller_id,
        status=status.value if status else None,
        amazon_order_id=amazon_order_id,
        after=after,
        limit=limit,
    )


async def of_order(uow: UnitOfWork, amazon_order_id: str, kind: Kind | None = None) -> list[Any]:
    return await _view(uow, kind).of_order(amazon_order_id)


async def get(
    uow: UnitOfWork,
    submission_id: uuid.UUID,
    seller_id: str | None,
    kind: Kind | None = None,
    *,
    lock: bool = False,
) -> Any:
    row = await _view(uow, kind).get(submission_id, seller_id, lock=lock)
    if row is None:
        raise _not_found(submission_id, kind)
    return row


async def retry(
    uow: UnitOfWork, submission_id: uuid.UUID, seller_id: str | None, kind: Kind | None = None
) -> Any:
    """Send a failed submission again: a feed message waits for the next feed of its kind; a
    shipment confirmation is sent now, unless a newer version of its shipment exists."""
    view = _view(uow, kind)
    row = await get(uow, submission_id, seller_id, kind, lock=True)
    if (kind or row.kind) == Kind.SHIPMENT_CONFIRMATION:
        await confirmations.reopen(uow, row)
        return await uow.confirmations.get(submission_id, None)
    target = ds.transition(Status(row.status), Action.RETRY)
    await view.update(
        submission_id,
        status=target.value,
        attempts=0,
        next_attempt_at=datetime.now(UTC),
        feed_id=None,
        message_id=None,
        submitted_at=None,
    )
    return await view.get(submission_id, None)
