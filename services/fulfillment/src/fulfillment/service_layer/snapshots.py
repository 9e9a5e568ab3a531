"""Apply orders.v1 snapshots: idempotent, newest version wins, seller actions kept.

The consumer runner already skips repeated event ids (inbox); here a snapshot whose version
is not newer than the one held is dropped, so arrival order and repeats do not matter.

A run of snapshots (consecutive events of one partition) is applied at once: the orders they
name are read and locked with one query, each snapshot is decided in memory in the run's
order (a later snapshot of the same order sees what the earlier ones did), and then new
orders, changed orders and the events to announce are written with one statement each. A
single snapshot is a run of one.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from fulfillment.adapters.pii import BuyerPII
from fulfillment.domain.model import Item, Order
from fulfillment.domain.state_machine import Status
from fulfillment.service_layer.unit_of_work import UnitOfWork
from shared.events.orders import OrderSnapshot
from shared.messaging.envelope import CloudEvent

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Incoming:
    """One snapshot of a run, with the correlation id its announcements carry."""

    snapshot: OrderSnapshot
    correlation_id: str | None = None


@dataclass
class Run:
    """What a run did so far: the orders as they now are, and what to write."""

    orders: dict[str, Order]
    new: dict[str, Order] = field(default_factory=dict)
    changed: dict[str, Order] = field(default_factory=dict)
    events: list[CloudEvent] = field(default_factory=list)


async def apply_snapshots(
    uow: UnitOfWork, run: Sequence[Incoming], *, pii: BuyerPII, clock: Callable[[], datetime]
) -> list[str]:
    """Apply a run in order; for each snapshot: created, updated, stale or foreign."""
    ids = [i.snapshot.amazon_order_id for i in run]
    state = Run(orders=await uow.orders.get_many(ids, lock=True))
    outcomes = [_apply(uow, state, i, pii=pii, now=clock()) for i in run]
    changed = [o for key, o in state.changed.items() if key not in state.new]
    await uow.save_all(new=list(state.new.values()), changed=changed, events=state.events)
    return outcomes


def _apply(uow: UnitOfWork, state: Run, incoming: Incoming, *, pii: BuyerPII, now: datetime) -> str:
    snapshot = incoming.snapshot
    key = snapshot.amazon_order_id
    held = state.orders.get(key)
    if held is None:
        order = state.orders[key] = state.new[key] = order_from_snapshot(snapshot, pii)
        order.arrived(now)
        state.events += uow.announce(order, incoming.correlation_id)
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
    state.events += uow.announce(held, incoming.correlation_id)
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
