"""Intake's command handlers: accept orders, quarantine what cannot be accepted, report ad
rows, register uploads. Each takes the unit of work first and leaves the commit to its caller
(an API request, an upload's chunk, the gateway's sync page or notification), which commits
the change together with the work around it.

Every accepted change is stored and its ``order.created``/``order.updated`` event written to
the outbox in the same transaction. Each order is validated once, on the way in (the Amazon
shape); its snapshot is made from those values without validating them again and dumped once,
for the event's bytes and the orders row alike
(docs/adr/0058-ingest-validates-and-serialises-once.md).

A batch costs a fixed handful of statements whatever its size: one locked read of the orders
it names, one multi-row insert of the new ones, one update of the changed ones, one outbox
insert (on commit, with the payloads computed here). If PostgreSQL refuses any of it
(``StorageRefused``), the batch is redone order by order, each in its own savepoint, so one
bad order never takes the others down.

The first attempt is undone by a savepoint when the transaction holds other work (a sync's
lease, an upload's progress, a notification's record). When the batch is the transaction's
only work (``alone``: the API's requests), it is undone by rolling the transaction back and
starting another: the same effect, without the SAVEPOINT and RELEASE round trips on every
request (a single order is then five statements instead of seven).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson
from pydantic import TypeAdapter

from ingest.intake.adapters import outbox
from ingest.intake.domain import commands
from ingest.intake.domain.errors import OrderOwnedElsewhere, StorageRefused
from ingest.intake.domain.events import OrderAccepted
from ingest.intake.domain.model import IncomingOrder, IntakeResult, KnownOrder, Rejected, decide
from ingest.intake.service_layer import ads, uploads
from ingest.intake.service_layer.unit_of_work import IntakeUnitOfWork
from shared import inputs, topics
from shared.events.common import EncryptedPII, Label
from shared.events.orders import OrderSnapshot
from shared.messaging.envelope import MAX_EVENT_BYTES, CloudEvent
from shared.pii import PIICipher

RACE_RETRIES = 3  # a concurrent request created one of the batch's orders first: read again
SNAPSHOT_FIELDS = tuple(OrderSnapshot.model_fields)  # the order of the snapshot's JSON
_SOURCE = TypeAdapter(Label)


@functools.cache
def _source(source: str) -> str:
    """The snapshot's ``intake_source`` (a handful of names the code gives), validated once."""
    return _SOURCE.validate_python(source)


@dataclass(frozen=True)
class Accepted:
    amazon_order_id: str
    result: IntakeResult
    version: int


class _LostRace(Exception):
    """Another transaction inserted one of the batch's new orders after we looked."""


@dataclass
class _Batch:
    """What one pass over a batch decided: rows to insert and update, events to publish."""

    held: dict[str, tuple[KnownOrder, dict[str, Any]]]
    new: dict[str, dict[str, Any]] = field(default_factory=dict)
    changed: dict[str, dict[str, Any]] = field(default_factory=dict)
    events: list[CloudEvent] = field(default_factory=list)
    payloads: list[bytes] = field(default_factory=list)


async def accept_many(
    uow: IntakeUnitOfWork,
    *,
    seller_id: str,
    entries: Sequence[IncomingOrder | Rejected],
    source: str,
    pii: PIICipher,
    topic: str,
    correlation_id: str | None = None,
    upload_id: Any = None,
    alone: bool = False,
) -> list[Accepted | Rejected]:
    """Accept the orders of a batch, in order; quarantine the rejected ones. ``alone``: the
    batch is all the transaction holds, so a refused attempt may roll all of it back."""
    orders = [e for e in entries if isinstance(e, IncomingOrder)]
    context = _Context(
        seller_id,
        _source(source),
        pii,
        topic,
        # the batch's envelope, validated once: the seller id, the correlation id, the actor
        outbox.OrderEvents(seller_id=seller_id, correlation_id=correlation_id),
    )
    try:
        decided = await _together(uow, orders, context, alone=alone)
    except (StorageRefused, _LostRace):
        decided = await _one_by_one(uow, orders, context)
    outcomes = [decided[id(e)] if isinstance(e, IncomingOrder) else e for e in entries]
    for outcome in outcomes:
        if isinstance(outcome, Rejected):
            await quarantine(
                uow,
                seller_id=seller_id,
                source=source,
                rejected=outcome,
                pii=pii,
                upload_id=upload_id,
            )
    return outcomes


@dataclass(frozen=True)
class _Context:
    seller_id: str
    source: str
    pii: PIICipher
    topic: str
    events: outbox.OrderEvents


async def _together(
    uow: IntakeUnitOfWork,
    orders: Sequence[IncomingOrder],
    context: _Context,
    *,
    alone: bool = False,
) -> dict[int, Accepted | Rejected]:
    """The whole batch in one attempt (a few statements) that is undone on its own if it
    fails; raises what PostgreSQL refused."""
    for attempt in range(RACE_RETRIES + 1):
        try:
            async with uow.attempt(alone=alone):
                return await _apply(uow, orders, context)
        except _LostRace:
            if attempt == RACE_RETRIES:
                raise
    raise AssertionError("unreachable")


async def _one_by_one(
    uow: IntakeUnitOfWork, orders: Sequence[IncomingOrder], context: _Context
) -> dict[int, Accepted | Rejected]:
    """Each order in its own savepoint: the one PostgreSQL refuses is rejected alone."""
    decided: dict[int, Accepted | Rejected] = {}
    for order in orders:
        try:
            decided.update(await _together(uow, [order], context))
        except StorageRefused as exc:
            reason = str(exc)
            decided[id(order)] = Rejected(
                reasons=[{"field": "order", "message": reason}],
                amazon_order_id=order.amazon_order_id,
            )
    return decided


async def _apply(
    uow: IntakeUnitOfWork, orders: Sequence[IncomingOrder], context: _Context
) -> dict[int, Accepted | Rejected]:
    ids = sorted({o.amazon_order_id for o in orders})
    batch = _Batch(held=await uow.orders.lock_many(ids))
    decided = {id(order): _decide(batch, order, context) for order in orders}
    if batch.new and len(await uow.orders.insert_new(list(batch.new.values()))) < len(batch.new):
        raise _LostRace()
    await uow.orders.update_many(batch.changed)
    uow.publish(batch.events, topic=context.topic, payloads=batch.payloads)
    return decided


def _decide(batch: _Batch, order: IncomingOrder, context: _Context) -> Accepted | Rejected:
    """Decide one order against what is held (including earlier orders of the same batch)."""
    known, stored = batch.held.get(order.amazon_order_id, (None, None))
    if known is not None and known.seller_id != context.seller_id:
        return Rejected(
            reasons=[{"field": "AmazonOrderId", "message": _owned_elsewhere(order)}],
            amazon_order_id=order.amazon_order_id,
            status=409,
        )
    result = decide(known, order)
    if result in (IntakeResult.UNCHANGED, IntakeResult.STALE):
        assert known is not None
        return Accepted(order.amazon_order_id, result, known.version)
    version = (known.version if known else 0) + 1
    if version > inputs.INT64_MAX:
        return Rejected(
            reasons=[{"field": "order", "message": "has had as many versions as it can"}],
            amazon_order_id=order.amazon_order_id,
            status=409,
        )
    snapshot = _snapshot(order, context, version, stored)
    written = context.events.event(
        OrderAccepted(snapshot, order.amazon_order_id, version, created=known is None)
    )
    if len(written.payload) > MAX_EVENT_BYTES:
        return Rejected(
            reasons=[{"field": "body", "message": _too_large(len(written.payload))}],
            amazon_order_id=order.amazon_order_id,
        )
    row = _row(order, written.snapshot.decode(), version, context.source)
    order_id = order.amazon_order_id
    if order_id in batch.new or known is None:  # new here: insert its latest state
        batch.new[order_id] = {"amazon_order_id": order_id, "seller_id": context.seller_id, **row}
    else:
        batch.changed[order_id] = row
    batch.held[order_id] = (
        KnownOrder(context.seller_id, order.last_update_date, version, order.item_count),
        snapshot,
    )
    batch.events.append(written.event)
    batch.payloads.append(written.payload)
    return Accepted(order_id, result, version)


def _too_large(size: int) -> str:
    return (
        f"the order is too large to publish: its event would be {size} bytes, over the "
        f"{MAX_EVENT_BYTES} a consumer takes (fewer or shorter lines)"
    )


def _owned_elsewhere(order: IncomingOrder) -> str:
    return str(OrderOwnedElsewhere(order.amazon_order_id))


def _snapshot(
    order: IncomingOrder, context: _Context, version: int, stored: dict[str, Any] | None
) -> dict[str, Any]:
    """The order's ``OrderSnapshot`` as its fields' values, in its order, not validated again:
    each was validated once on the way in. The order's own by the Amazon shape, whose type
    for each field is the snapshot's or stricter (derived values, such as a v2026 item's price
    or condition, are checked where they are derived); the seller and the source with the
    batch; the version is in range; the sealed PII is an ``EncryptedPII``, and the stored one
    (an update without PII keeps it) is validated here.
    docs/adr/0058-ingest-validates-and-serialises-once.md."""
    if order.pii:
        sealed: dict[str, Any] | None = context.pii.seal(order.pii).model_dump()
    else:
        kept = (stored or {}).get("buyer_pii")
        sealed = None if kept is None else EncryptedPII.model_validate(kept).model_dump()
    values = {
        **order.fields,
        "seller_id": context.seller_id,
        "version": version,
        "buyer_pii": sealed,
        "intake_source": context.source,
    }
    return {name: values[name] for name in SNAPSHOT_FIELDS}


def order_event(
    order: IncomingOrder, *, seller_id: str, version: int, source: str, pii: PIICipher
) -> outbox.OrderEvent:
    """One order's event as intake writes it, alone (the benchmarks make their events so)."""
    events = outbox.OrderEvents(seller_id=seller_id, correlation_id=None)
    context = _Context(seller_id, _source(source), pii, topics.ORDERS, events)
    snapshot = _snapshot(order, context, version, None)
    return events.event(OrderAccepted(snapshot, order.amazon_order_id, version, version == 1))


def _row(order: IncomingOrder, snapshot: str, version: int, source: str) -> dict[str, Any]:
    return {
        "marketplace_id": order.marketplace_id,
        "order_status": order.order_status,
        "last_update_date": order.last_update_date,
        "version": version,
        "item_count": order.item_count,
        "snapshot": snapshot,
        "intake_source": source,
    }


async def quarantine(
    uow: IntakeUnitOfWork,
    *,
    seller_id: str | None,
    source: str,
    rejected: Rejected,
    pii: PIICipher,
    upload_id: Any = None,
) -> int:
    sealed = None
    if rejected.raw is not None:
        raw = rejected.raw if isinstance(rejected.raw, str) else orjson.dumps(rejected.raw).decode()
        sealed = pii.seal({"input": raw[:200_000]}).ciphertext
    return await uow.quarantine.add(
        seller_id=seller_id,
        source=source,
        amazon_order_id=rejected.amazon_order_id,
        reasons=rejected.reasons,
        sealed_input=sealed,
        upload_id=upload_id,
        row_numbers=rejected.rows,
    )


# -- the commands ------------------------------------------------------------------------------


async def accept_orders(
    uow: IntakeUnitOfWork,
    *,
    command: commands.AcceptOrders,
    pii: PIICipher,
    topic: str,
    alone: bool = False,
) -> list[Accepted | Rejected]:
    """``alone``: the batch is all the transaction holds (an API request)."""
    return await accept_many(
        uow,
        seller_id=command.seller_id,
        entries=command.entries,
        source=command.source,
        pii=pii,
        topic=topic,
        correlation_id=command.correlation_id,
        upload_id=command.upload_id,
        alone=alone,
    )


async def quarantine_input(
    uow: IntakeUnitOfWork, *, command: commands.QuarantineInput, pii: PIICipher
) -> int:
    return await quarantine(
        uow,
        seller_id=command.seller_id,
        source=command.source,
        rejected=command.rejected,
        pii=pii,
        upload_id=command.upload_id,
    )


async def report_ad_rows(
    uow: IntakeUnitOfWork, *, command: commands.ReportAdRows, topic: str
) -> list[ads.AdRowOutcome]:
    return await ads.report_rows(
        uow, rows=command.rows, topic=topic, correlation_id=command.correlation_id
    )


async def register_upload(
    uow: IntakeUnitOfWork, *, command: commands.RegisterUpload, pii: PIICipher
) -> tuple[Any, bool]:
    """The upload's row, and whether the same file was uploaded before."""
    return await uploads.register(
        uow,
        seller_id=command.seller_id,
        filename=command.filename,
        content=command.content,
        pii=pii,
    )
