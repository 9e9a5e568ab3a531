"""Fulfillment's use cases: one handler per command, plus the orders.v1 event handler.

Each command loads the order locked (``SELECT ... FOR UPDATE``), asks the aggregate to act,
and saves it with its events in the same transaction. Identifiers are made here; the time
comes from the caller's clock.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from fulfillment.adapters.pii import BuyerPII
from fulfillment.domain import commands as cmd
from fulfillment.domain.errors import OrderNotFound
from fulfillment.domain.model import Cancellation, Order, Pickup, Refund, Return, Shipment
from fulfillment.domain.values import AmazonConfirmation as AmazonAnswer
from fulfillment.service_layer.snapshots import Incoming, apply_snapshots
from fulfillment.service_layer.unit_of_work import UnitOfWork
from shared.events.orders import AmazonConfirmation
from shared.messaging.envelope import CloudEvent
from shared.messaging.inbox import Events

Clock = Callable[[], datetime]


def new_id() -> str:
    return str(uuid.uuid4())


async def load(uow: UnitOfWork, command: cmd.Command) -> Order:
    order = await uow.orders.get(command.amazon_order_id, seller_id=command.seller_id, lock=True)
    if order is None:
        raise OrderNotFound(command.amazon_order_id)
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
        await uow.save(order)
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
    await uow.save(order)
    return shipment


async def cancel_order(uow: UnitOfWork, c: cmd.CancelOrder, *, now: datetime) -> Cancellation:
    order = await load(uow, c)
    cancellation = order.cancel(reason=c.reason, now=now)
    await uow.save(order)
    return cancellation


async def issue_refund(uow: UnitOfWork, c: cmd.IssueRefund, *, now: datetime) -> Refund:
    order = await load(uow, c)
    lines = list(c.items) if c.items is not None else None
    refund = order.refund(refund_id=new_id(), reason=c.reason, lines=lines, now=now)
    await uow.save(order)
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
    await uow.save(order)
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
    await uow.save(order)
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
    await uow.save(order)
    return pickup


async def flag_late_orders(uow: UnitOfWork, *, now: datetime, batch: int) -> int:
    """Flag one batch of overdue FBM orders (rows locked, others' locks skipped)."""
    flagged = 0
    for order in await uow.orders.overdue_for_flagging(now, batch):
        if order.flag_late(now):
            await uow.save(order)
            flagged += 1
    return flagged


def snapshot_handler(
    *, topic: str, pii: BuyerPII, clock: Clock
) -> Callable[[AsyncSession, Events], Awaitable[None]]:
    """The orders.v1 snapshot handler: applies a run of snapshots (or one) in the runner's
    transaction; each announcement carries the correlation id of the event that caused it."""

    async def apply(session: AsyncSession, events: Events) -> None:
        run = [Incoming(payload, event.correlationid or str(event.id)) for event, payload in events]
        await apply_snapshots(UnitOfWork(topic=topic, session=session), run, pii=pii, clock=clock)

    return apply


def amazon_confirmation_handler(
    *, topic: str
) -> Callable[[AsyncSession, CloudEvent, AmazonConfirmation], Awaitable[None]]:
    """The orders.v1 handler of ``shipment.amazon_confirmed`` / ``..._confirmation_failed``:
    records Amazon's answer on the shipment, without bumping the order's version or
    publishing anything (it is not an order snapshot). Unknown orders or shipments: ignored."""

    async def handle(session: AsyncSession, event: CloudEvent, payload: AmazonConfirmation) -> None:
        uow = UnitOfWork(topic=topic, session=session)
        order = await uow.orders.get(
            payload.amazon_order_id, seller_id=payload.seller_id, lock=True
        )
        if order is None:
            return
        shipment = next((s for s in order.shipments if s.shipment_id == payload.shipment_id), None)
        if shipment is None:
            return
        answer = AmazonAnswer(
            status=payload.status,
            at=payload.at,
            fulfillment_version=payload.fulfillment_version,
            error=payload.error,
        )
        if shipment.note_amazon_confirmation(answer):
            await uow.orders.save(order)

    return handle
