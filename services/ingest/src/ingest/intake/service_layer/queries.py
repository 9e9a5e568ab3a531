"""Intake's reads, for the API: each in its own unit of work, nothing written."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from ingest.intake.domain.errors import UploadNotFound
from ingest.intake.service_layer.unit_of_work import IntakeUnitOfWork


@dataclass(frozen=True)
class OrderView:
    """What ingest holds for an order: its row, its events in the outbox, the shipment
    confirmations pushed to Amazon for it, and everything sent to Amazon for it."""

    row: Any
    events: list[Any]
    confirmations: list[Any]
    submissions: list[Any]


async def order(
    uow: IntakeUnitOfWork, *, amazon_order_id: str, seller_id: str | None
) -> OrderView | None:
    async with uow:
        row = await uow.orders.get(amazon_order_id, seller_id)
        if row is None or row.version == 0:
            return None
        events = await uow.orders.events_of(amazon_order_id)
        confirmations = await uow.orders.confirmations_of(amazon_order_id)
        submissions = await uow.orders.submissions_of(amazon_order_id)
    return OrderView(row, events, confirmations, submissions)


async def quarantine_page(
    uow: IntakeUnitOfWork,
    *,
    seller_id: str | None,
    amazon_order_id: str | None,
    source: str | None,
    before_id: int | None,
    limit: int,
) -> list[Any]:
    async with uow:
        return await uow.quarantine.page(
            seller_id=seller_id,
            amazon_order_id=amazon_order_id,
            source=source,
            before_id=before_id,
            limit=limit,
        )


async def upload(uow: IntakeUnitOfWork, *, upload_id: uuid.UUID, seller_id: str | None) -> Any:
    async with uow:
        row = await uow.uploads.get(upload_id, seller_id=seller_id)
    if row is None:
        raise UploadNotFound(f"No upload {upload_id} for this seller.")
    return row
