"""Ingest's use cases: accept orders, quarantine what cannot be accepted.

Every accepted change is stored and its ``order.created``/``order.updated`` event written to
the outbox in the same transaction. Each order of a batch runs in its own savepoint, so one
bad order never takes the others down with it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from ingest.domain.errors import OrderOwnedElsewhere
from ingest.domain.model import IncomingOrder, IntakeResult, Rejected, decide
from ingest.service_layer.unit_of_work import UnitOfWork
from shared import topics
from shared.events.orders import ORDER_CREATED, ORDER_UPDATED, OrderSnapshot
from shared.events.registry import build_event
from shared.pii import PIICipher

SOURCE = "ingest"


@dataclass(frozen=True)
class Accepted:
    amazon_order_id: str
    result: IntakeResult
    version: int


async def accept_order(
    uow: UnitOfWork,
    *,
    seller_id: str,
    order: IncomingOrder,
    source: str,
    pii: PIICipher,
    topic: str,
    correlation_id: str | None = None,
) -> Accepted:
    found = await uow.orders.lock(order.amazon_order_id)
    while found is None and not await _create_placeholder(uow, seller_id, order):
        found = await uow.orders.lock(order.amazon_order_id)  # lost a race: now it exists
    known, stored = found if found else (None, None)
    if known is not None and known.seller_id != seller_id:
        raise OrderOwnedElsewhere(order.amazon_order_id)
    result = decide(known, order)
    if result in (IntakeResult.UNCHANGED, IntakeResult.STALE):
        assert known is not None
        return Accepted(order.amazon_order_id, result, known.version)
    version = (known.version if known else 0) + 1
    snapshot = _snapshot(order, seller_id, version, source, pii, stored)
    await uow.orders.replace(order.amazon_order_id, _row(order, snapshot, source))
    event_type = ORDER_CREATED if result is IntakeResult.CREATED else ORDER_UPDATED
    await uow.publish(
        topic,
        build_event(
            topic=topics.ORDERS,
            event_type=event_type,
            payload=snapshot,
            source=SOURCE,
            subject=order.amazon_order_id,
            seller_id=seller_id,
            version=version,
            correlation_id=correlation_id,
        ),
    )
    return Accepted(order.amazon_order_id, result, version)


async def _create_placeholder(uow: UnitOfWork, seller_id: str, order: IncomingOrder) -> bool:
    """Claim the order id with a version-0 row, replaced in the same transaction."""
    return await uow.orders.create(
        {
            "amazon_order_id": order.amazon_order_id,
            "seller_id": seller_id,
            "order_status": order.order_status,
            "last_update_date": order.last_update_date,
            "version": 0,
            "item_count": 0,
            "snapshot": {},
            "intake_source": "pending",
        }
    )


def _snapshot(
    order: IncomingOrder,
    seller_id: str,
    version: int,
    source: str,
    pii: PIICipher,
    stored: dict[str, Any] | None,
) -> OrderSnapshot:
    sealed = pii.seal(order.pii).model_dump() if order.pii else (stored or {}).get("buyer_pii")
    return OrderSnapshot.model_validate(
        {
            **order.fields,
            "seller_id": seller_id,
            "version": version,
            "buyer_pii": sealed,
            "intake_source": source,
        }
    )


def _row(order: IncomingOrder, snapshot: OrderSnapshot, source: str) -> dict[str, Any]:
    return {
        "marketplace_id": order.marketplace_id,
        "order_status": order.order_status,
        "last_update_date": order.last_update_date,
        "version": snapshot.version,
        "item_count": order.item_count,
        "snapshot": snapshot.model_dump(mode="json"),
        "intake_source": source,
    }


async def quarantine(
    uow: UnitOfWork,
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


async def accept_many(
    uow: UnitOfWork,
    *,
    seller_id: str,
    entries: Sequence[IncomingOrder | Rejected],
    source: str,
    pii: PIICipher,
    topic: str,
    correlation_id: str | None = None,
    upload_id: Any = None,
) -> list[Accepted | Rejected]:
    """Accept each order in its own savepoint; quarantine the rejected ones."""
    outcomes: list[Accepted | Rejected] = []
    for entry in entries:
        outcome = (
            await _accept_in_savepoint(uow, seller_id, entry, source, pii, topic, correlation_id)
            if isinstance(entry, IncomingOrder)
            else entry
        )
        if isinstance(outcome, Rejected):
            await quarantine(
                uow,
                seller_id=seller_id,
                source=source,
                rejected=outcome,
                pii=pii,
                upload_id=upload_id,
            )
        outcomes.append(outcome)
    return outcomes


async def _accept_in_savepoint(
    uow: UnitOfWork,
    seller_id: str,
    order: IncomingOrder,
    source: str,
    pii: PIICipher,
    topic: str,
    correlation_id: str | None,
) -> Accepted | Rejected:
    try:
        async with uow.session.begin_nested():
            return await accept_order(
                uow,
                seller_id=seller_id,
                order=order,
                source=source,
                pii=pii,
                topic=topic,
                correlation_id=correlation_id,
            )
    except OrderOwnedElsewhere as exc:
        return Rejected(
            reasons=[{"field": "AmazonOrderId", "message": str(exc)}],
            amazon_order_id=order.amazon_order_id,
            status=409,
        )
