"""``/v1/orders``: take orders in Amazon's shape, one or a batch; show what ingest holds."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, Field

from ingest.intake.domain import commands
from ingest.intake.domain.model import IncomingOrder, Rejected
from ingest.intake.entrypoints.api.deps import Cipher, Settings, UoW
from ingest.intake.entrypoints.api.schemas import (
    BatchEntryOut,
    BatchOut,
    FieldError,
    IntakeOut,
    OrderOut,
    PublishedEvent,
    confirmation_out,
    submission_out,
)
from ingest.intake.service_layer import handlers, queries
from ingest.intake.service_layer.handlers import Accepted
from ingest.intake.service_layer.shapes import OrderV0, OrderV2026, read_order
from shared import audit, inputs, topics
from shared.api.auth import ActingSeller, VisibleSeller
from shared.api.openapi import REF, body_of
from shared.api.problems import Problem
from shared.logs import correlation_id

router = APIRouter(prefix="/v1/orders", tags=["orders"])


class BatchIn(BaseModel):
    """Documentation only: the route validates each order on its own."""

    orders: list[OrderV0 | OrderV2026] = Field(max_length=1000)


# An order as Amazon's Orders API v0 (``AmazonOrderId``) or v2026-01-01 (``orderId``) has it.
ONE_ORDER = {
    "oneOf": [
        {"$ref": REF.format(model=OrderV0.__name__)},
        {"$ref": REF.format(model=OrderV2026.__name__)},
    ]
}


async def _read_json(request: Request) -> tuple[Any, Rejected | None]:
    raw = await request.body()
    try:
        return orjson.loads(raw), None
    except orjson.JSONDecodeError as exc:
        reason = {"field": "body", "message": f"malformed JSON: {exc}", "type": "json_invalid"}
        return None, Rejected(reasons=[reason], status=400, raw=raw.decode(errors="replace"))


def _problem_of(rejected: Rejected) -> Problem:
    title = {
        400: "Malformed JSON",
        409: "Order belongs to another account",
        413: "Batch too large",
    }.get(rejected.status, "Invalid order")
    detail = "; ".join(f"{r['field']}: {r['message']}" for r in rejected.reasons)[:1000]
    return Problem(rejected.status, title, detail, errors=rejected.reasons)


@router.post(
    "",
    status_code=201,
    response_model=IntakeOut,
    summary="Take one order (SP-API Orders v0 or v2026-01-01)",
    openapi_extra=body_of(ONE_ORDER),
    responses={
        200: {"model": IntakeOut, "description": "already known: updated, unchanged or stale"},
        409: {"description": "the id belongs to another account"},
    },
)
async def post_order(
    request: Request,
    response: Response,
    seller: ActingSeller,
    uow: UoW,
    pii: Cipher,
    settings: Settings,
) -> IntakeOut:
    data, bad_json = await _read_json(request)
    entry = bad_json or read_order(data)
    command = commands.AcceptOrders(
        seller_id=seller, entries=[entry], source="api", correlation_id=correlation_id.get()
    )
    async with uow:
        [outcome] = await handlers.accept_orders(
            uow, command=command, pii=pii, topic=settings.topic(topics.ORDERS), alone=True
        )
        _note(outcome)
        await uow.commit()
    if isinstance(outcome, Rejected):
        raise _problem_of(outcome)
    response.status_code = 201 if outcome.result == "created" else 200
    return IntakeOut(
        amazon_order_id=outcome.amazon_order_id,
        result=outcome.result.value,
        version=outcome.version,
    )


def _note(outcome: Accepted | Rejected) -> None:
    """The audit entry of one order: its id, and how it ended (a refused order is quarantined)."""
    if isinstance(outcome, Rejected):
        audit.note(
            resource_type="order",
            resource_id=outcome.amazon_order_id,
            outcome="quarantined",
            status_code=outcome.status,
        )
        return
    audit.note(
        resource_type="order",
        resource_id=outcome.amazon_order_id,
        outcome=outcome.result.value,
        status_code=201 if outcome.result == "created" else 200,
    )


@router.post(
    "/batch",
    response_model=BatchOut,
    summary="Take up to 1,000 orders; answers per order",
    openapi_extra=body_of(BatchIn),
)
async def post_batch(
    request: Request, seller: ActingSeller, uow: UoW, pii: Cipher, settings: Settings
) -> BatchOut:
    data, bad_json = await _read_json(request)
    orders = data.get("orders") if isinstance(data, dict) else None
    refused = bad_json or _batch_refusal(orders, settings.max_batch_orders, data)
    if refused is not None:
        quarantine = commands.QuarantineInput(seller_id=seller, source="batch", rejected=refused)
        async with uow:
            await handlers.quarantine_input(uow, command=quarantine, pii=pii)
            audit.note(
                resource_type="order_batch", outcome="quarantined", status_code=refused.status
            )
            await uow.commit()
        raise _problem_of(refused)
    assert isinstance(orders, list)
    entries: list[IncomingOrder | Rejected] = [read_order(o) for o in orders]
    command = commands.AcceptOrders(
        seller_id=seller, entries=entries, source="batch", correlation_id=correlation_id.get()
    )
    async with uow:
        outcomes = await handlers.accept_orders(
            uow, command=command, pii=pii, topic=settings.topic(topics.ORDERS), alone=True
        )
        # One entry for the whole batch, not one per order (docs/adr/0050-audit-trail.md).
        audit.note(resource_type="order_batch")
        await uow.commit()
    results = [_batch_entry(i, o) for i, o in enumerate(outcomes)]
    rejected = sum(1 for r in results if r.result == "rejected")
    return BatchOut(accepted=len(results) - rejected, rejected=rejected, results=results)


def _batch_refusal(orders: Any, limit: int, data: Any) -> Rejected | None:
    if not isinstance(orders, list):
        return Rejected(
            reasons=[
                {
                    "field": "body.orders",
                    "message": 'a list of orders is required: {"orders": [...]}',
                }
            ],
            raw=data,
        )
    if len(orders) > limit:
        return Rejected(
            reasons=[
                {
                    "field": "body.orders",
                    "message": f"at most {limit} orders in a batch; this one has {len(orders)}",
                }
            ],
            status=413,
            raw=data,
        )
    return None


def _batch_entry(index: int, outcome: handlers.Accepted | Rejected) -> BatchEntryOut:
    if isinstance(outcome, Rejected):
        return BatchEntryOut(
            index=index,
            amazon_order_id=outcome.amazon_order_id,
            result="rejected",
            status=outcome.status,
            errors=[FieldError(**r) for r in outcome.reasons],
        )
    return BatchEntryOut(
        index=index,
        amazon_order_id=outcome.amazon_order_id,
        result=outcome.result.value,
        version=outcome.version,
        status=201 if outcome.result == "created" else 200,
    )


@router.get(
    "/{amazon_order_id}",
    response_model=OrderOut,
    summary="What ingest holds for an order, and whether its events went out",
)
async def get_order(
    amazon_order_id: inputs.AmazonOrderId, seller: VisibleSeller, uow: UoW
) -> OrderOut:
    view = await queries.order(uow, amazon_order_id=amazon_order_id, seller_id=seller)
    if view is None:
        raise Problem(404, "Not Found", f"No order {amazon_order_id} for this seller.")
    row = view.row
    published = [
        PublishedEvent(
            event_id=str(e.event_id),
            type=e.event_type,
            topic=e.topic,
            version=e.aggregate_version,
            created_at=e.created_at,
            sent_at=e.sent_at,
            partition=e.kafka_partition,
            offset=e.kafka_offset,
        )
        for e in view.events
    ]
    order = {k: v for k, v in row.snapshot.items() if k != "buyer_pii"}
    held = row.snapshot.get("buyer_pii") is not None
    removed = not held and row.pii_removed_at is not None
    return OrderOut(
        amazon_order_id=row.amazon_order_id,
        seller_id=row.seller_id,
        order_status=row.order_status,
        version=row.version,
        last_update_date=row.last_update_date,
        received_at=row.received_at,
        updated_at=row.updated_at,
        intake_source=row.intake_source,
        all_events_published=all(e.sent_at is not None for e in published),
        events=published,
        order=order,
        pii_status="held" if held else "removed" if removed else "none",
        pii_removed_at=row.pii_removed_at if removed else None,
        amazon_shipment_confirmations=[confirmation_out(c) for c in view.confirmations],
        amazon_submissions=[submission_out(s) for s in view.submissions],
    )
