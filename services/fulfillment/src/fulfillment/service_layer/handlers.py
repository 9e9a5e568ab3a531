"""Fulfillment's use cases: one handler per command, and the handlers of the orders.v1 events.

Each command loads the order locked (``SELECT ... FOR UPDATE``), asks the aggregate to act,
stores it and queues its events (``uow.publish``) in the caller's unit of work; the caller
commits. Identifiers are made here; the time comes from the caller's clock.

orders.v1 snapshots are idempotent, newest version wins, seller actions kept: the consumer
runner already skips repeated event ids (inbox), and a snapshot whose version is not newer
than the one held is dropped, so arrival order and repeats do not matter. A run of snapshots
(consecutive events of one partition) is applied at once: the orders they name are read and
locked with one query, each snapshot is decided in memory in the run's order (a later
snapshot of the same order sees what the earlier ones did), and then new orders, changed
orders and the events to announce are written with one statement each. A single snapshot is
a run of one.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from fulfillment.adapters.outbox import cloud_events
from fulfillment.adapters.pii import BuyerPII
from fulfillment.domain import carriers
from fulfillment.domain import commands as cmd
from fulfillment.domain.errors import OrderNotFound, TrackingNumberNotFound
from fulfillment.domain.model import (
    Cancellation,
    Item,
    Order,
    Pickup,
    Refund,
    Return,
    Shipment,
)
from fulfillment.domain.state_machine import Status
from fulfillment.domain.values import AmazonConfirmation as AmazonAnswer
from fulfillment.domain.values import AmazonFeedAnswer
from fulfillment.service_layer.unit_of_work import UnitOfWork
from shared import audit
from shared.events.orders import AmazonConfirmation, AmazonFeedResult, OrderSnapshot
from shared.logs import correlation_id
from shared.messaging.envelope import CloudEvent

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]


def new_id() -> str:
    return str(uuid.uuid4())


def announced(order: Order, correlation: str | None) -> list[CloudEvent]:
    """The order's recorded events as fulfillment.v1 messages, taken off the order."""
    events = cloud_events(order, correlation)
    order.events.clear()
    return events


async def _store(uow: UnitOfWork, order: Order) -> None:
    """Store the order and queue its events, correlated with the request or event at hand."""
    await uow.orders.save(order)
    audit.note(after=order.status.value)  # a no-op outside an API request
    uow.publish(announced(order, correlation_id.get()))


async def load(uow: UnitOfWork, command: cmd.Command) -> Order:
    order = await uow.orders.get(command.amazon_order_id, seller_id=command.seller_id, lock=True)
    if order is None:
        raise OrderNotFound(command.amazon_order_id)
    audit.note(resource_type="order", resource_id=order.amazon_order_id, before=order.status.value)
    return order


async def confirm_shipment(
    uow: UnitOfWork, c: cmd.ConfirmShipment, *, now: datetime
) -> tuple[Shipment, bool]:
    order = await load(uow, c)
    shipment, created = order.confirm_shipment(
        shipment_id=new_id(),
        carrier_code=c.carrier_code,
        carrier_name=c.carrier_name,
        ship_method=c.ship_method,
        tracking_number=c.tracking_number,
        ship_date=c.ship_date,
        items=list(c.items) if c.items is not None else None,
        is_buy_shipping=c.is_buy_shipping,
        now=now,
    )
    if created:
        await _store(uow, order)
    return shipment, created


async def edit_shipment(uow: UnitOfWork, c: cmd.EditShipment, *, now: datetime) -> Shipment:
    order = await load(uow, c)
    shipment = order.edit_shipment(
        c.shipment_id,
        carrier_code=c.carrier_code,
        carrier_name=c.carrier_name,
        ship_method=c.ship_method,
        tracking_number=c.tracking_number,
        now=now,
    )
    await _store(uow, order)
    return shipment


@dataclass(frozen=True)
class ScanRecorded:
    amazon_order_id: str
    shipment: Shipment
    recorded: bool  # False: a repeat of a scan already held


async def record_tracking_event(
    uow: UnitOfWork, c: cmd.RecordTrackingEvent, *, now: datetime
) -> list[ScanRecorded]:
    """The scan on every shipment of the seller sent with this carrier and number (one parcel
    can carry several orders); ``TrackingNumberNotFound`` when there is none."""
    code = carriers.canonical(c.carrier_code)
    number = carriers.normalise_tracking(c.tracking_number)
    found: list[ScanRecorded] = []
    changed: list[Order] = []
    for order in await uow.orders.with_tracking(c.seller_id, number):
        for shipment, recorded in order.record_scan(
            carrier_code=code,
            tracking_number=number,
            status=c.status,
            occurred_at=c.occurred_at,
            now=now,
        ):
            found.append(ScanRecorded(order.amazon_order_id, shipment, recorded))
        if order.events:
            changed.append(order)
    if not found:
        raise TrackingNumberNotFound(code, number)
    if changed:
        await uow.orders.save_many(changed)
        for order in changed:
            uow.publish(announced(order, correlation_id.get()))
    return found


async def cancel_order(uow: UnitOfWork, c: cmd.CancelOrder, *, now: datetime) -> Cancellation:
    order = await load(uow, c)
    cancellation = order.cancel(reason=c.reason, now=now)
    await _store(uow, order)
    return cancellation


async def issue_refund(uow: UnitOfWork, c: cmd.IssueRefund, *, now: datetime) -> Refund:
    order = await load(uow, c)
    lines = list(c.items) if c.items is not None else None
    refund = order.refund(refund_id=new_id(), reason=c.reason, lines=lines, now=now)
    await _store(uow, order)
    return refund


async def authorize_return(uow: UnitOfWork, c: cmd.AuthorizeReturn, *, now: datetime) -> Return:
    order = await load(uow, c)
    return_id = new_id()
    ret = order.authorize_return(
        return_id=return_id,
        rma_id=c.rma_id or f"RMA-{return_id[:8].upper()}",
        items=list(c.items),
        reason=c.reason,
        now=now,
    )
    await _store(uow, order)
    return ret


async def receive_return(
    uow: UnitOfWork, c: cmd.ReceiveReturn, *, now: datetime
) -> tuple[Return, Refund | None]:
    order = await load(uow, c)
    ret, refund = order.receive_return(
        c.return_id,
        now=now,
        refund_id=new_id() if c.refund else None,
        refund_reason=c.refund_reason,
    )
    await _store(uow, order)
    return ret, refund


async def schedule_pickup(uow: UnitOfWork, c: cmd.SchedulePickup, *, now: datetime) -> Pickup:
    order = await load(uow, c)
    pickup = order.schedule_pickup(
        pickup_id=new_id(),
        carrier_code=c.carrier_code,
        window_start=c.window_start,
        window_end=c.window_end,
        now=now,
    )
    await _store(uow, order)
    return pickup


async def flag_late_orders(uow: UnitOfWork, *, now: datetime, batch: int) -> int:
    """Flag one batch of overdue FBM orders (rows locked, others' locks skipped)."""
    flagged = 0
    for order in await uow.orders.overdue_for_flagging(now, batch):
        if order.flag_late(now):
            await _store(uow, order)
            flagged += 1
    return flagged


# ---- orders.v1 -----------------------------------------------------------------------------
@dataclass(frozen=True)
class Incoming:
    """One snapshot of a run, with the correlation id its announcements carry."""

    snapshot: OrderSnapshot
    correlation_id: str | None = None


@dataclass
class _Run:
    """What a run did so far: the orders as they now are, and what to write."""

    orders: dict[str, Order]
    new: dict[str, Order] = field(default_factory=dict)
    changed: dict[str, Order] = field(default_factory=dict)
    events: list[CloudEvent] = field(default_factory=list)


async def apply_snapshots(
    uow: UnitOfWork, run: Sequence[Incoming], *, pii: BuyerPII, clock: Clock
) -> list[str]:
    """Apply a run in order; for each snapshot: created, updated, stale or foreign. Raises
    ``ConcurrentInsert`` when another transaction inserted one of its new orders first."""
    ids = [i.snapshot.amazon_order_id for i in run]
    state = _Run(orders=await uow.orders.get_many(ids, lock=True))
    outcomes = [_apply(state, i, pii=pii, now=clock()) for i in run]
    await uow.orders.add_many(list(state.new.values()))
    await uow.orders.save_many([o for key, o in state.changed.items() if key not in state.new])
    uow.publish(state.events)
    return outcomes


def _apply(state: _Run, incoming: Incoming, *, pii: BuyerPII, now: datetime) -> str:
    snapshot = incoming.snapshot
    key = snapshot.amazon_order_id
    held = state.orders.get(key)
    if held is None:
        order = state.orders[key] = state.new[key] = order_from_snapshot(snapshot, pii)
        order.arrived(now)
        state.events += announced(order, incoming.correlation_id)
        return "created"
    if held.seller_id != snapshot.seller_id:
        log.warning(
            "snapshot for an order of another seller ignored", extra={"amazon_order_id": key}
        )
        return "foreign"
    if not held.takes(snapshot.version) or not held.merge_amazon(
        order_from_snapshot(snapshot, pii), now
    ):
        return "stale"
    state.changed[key] = held
    state.events += announced(held, incoming.correlation_id)
    return "updated"


def order_from_snapshot(s: OrderSnapshot, pii: BuyerPII) -> Order:
    status = Status(s.order_status.value)
    total = s.order_total
    currency = total.currency_code if total else _currency_of(s)
    return Order(
        amazon_order_id=s.amazon_order_id,
        seller_id=s.seller_id,
        status=status,
        amazon_status=status,
        snapshot_version=s.version,
        purchase_date=s.purchase_date,
        last_update_date=s.last_update_date,
        fulfillment_channel=s.fulfillment_channel.value if s.fulfillment_channel else None,
        marketplace_id=s.marketplace_id,
        sales_channel=s.sales_channel,
        ship_service_level=s.ship_service_level,
        shipment_service_level_category=s.shipment_service_level_category,
        order_type=s.order_type,
        earliest_ship_date=s.earliest_ship_date,
        latest_ship_date=s.latest_ship_date,
        earliest_delivery_date=s.earliest_delivery_date,
        latest_delivery_date=s.latest_delivery_date,
        order_total=total.amount if total else None,
        currency_code=currency,
        is_prime=s.is_prime,
        is_business_order=s.is_business_order,
        is_replacement_order=s.is_replacement_order,
        replaced_order_id=s.replaced_order_id,
        is_buyer_requested_cancel=s.is_buyer_requested_cancel,
        buyer_cancel_reason=s.buyer_cancel_reason,
        ship_to=s.ship_to.model_dump() if s.ship_to else None,
        buyer_pii=s.buyer_pii.model_dump() if s.buyer_pii else None,
        buyer_email_hash=pii.email_hash_of(s.buyer_pii),
        items=[
            Item(
                order_item_id=i.order_item_id,
                asin=i.asin,
                seller_sku=i.seller_sku,
                title=i.title,
                quantity_ordered=i.quantity_ordered,
                quantity_shipped=i.quantity_shipped,
                item_price=i.item_price.amount if i.item_price else None,
                item_tax=i.item_tax.amount if i.item_tax else None,
                shipping_price=i.shipping_price.amount if i.shipping_price else None,
                shipping_tax=i.shipping_tax.amount if i.shipping_tax else None,
                promotion_discount=i.promotion_discount.amount if i.promotion_discount else None,
                is_buyer_requested_cancel=i.is_buyer_requested_cancel,
            )
            for i in s.items
        ],
    )


def _currency_of(s: OrderSnapshot) -> str | None:
    prices = (i.item_price for i in s.items if i.item_price is not None)
    first = next(prices, None)
    return first.currency_code if first else None


async def record_amazon_confirmation(uow: UnitOfWork, answer: AmazonConfirmation) -> None:
    """Amazon's answer to a shipment confirmation (``shipment.amazon_confirmed`` /
    ``..._confirmation_failed``), recorded on the shipment without bumping the order's version
    or publishing anything (it is not an order snapshot). Unknown orders or shipments: ignored."""
    order = await uow.orders.get(answer.amazon_order_id, seller_id=answer.seller_id, lock=True)
    if order is None:
        return
    shipment = next((s for s in order.shipments if s.shipment_id == answer.shipment_id), None)
    if shipment is None:
        return
    noted = AmazonAnswer(
        status=answer.status,
        at=answer.at,
        fulfillment_version=answer.fulfillment_version,
        error=answer.error,
    )
    if shipment.note_amazon_confirmation(noted):
        await uow.orders.save(order)


async def record_amazon_feed_result(uow: UnitOfWork, result: AmazonFeedResult) -> None:
    """Amazon's answer to a cancellation (``cancellation.amazon_*``) or a refund
    (``refund.amazon_*``, matched by ``refund_id``) that ingest sent as a feed message,
    recorded on the order's cancellation or on that refund like a shipment's confirmation:
    no version bump, nothing published, an older answer never replaces a newer one. Unknown
    orders, refunds or an order without a cancellation: ignored."""
    order = await uow.orders.get(result.amazon_order_id, seller_id=result.seller_id, lock=True)
    if order is None:
        return
    target: Cancellation | Refund | None = (
        order.cancellation
        if result.kind == "cancellation"
        else next((r for r in order.refunds if r.refund_id == result.refund_id), None)
    )
    if target is None:
        return
    answer = AmazonFeedAnswer(
        status=result.status,
        at=result.at,
        fulfillment_version=result.fulfillment_version,
        result_code=result.result_code,
        error=result.error,
        feed_id=result.feed_id,
    )
    if target.note_amazon(answer):
        await uow.orders.save(order)
