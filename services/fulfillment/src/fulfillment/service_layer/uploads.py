"""Shipment-confirmation uploads as jobs (the mechanism: ``shared.uploads``), in chunks of
packages, each chunk also recording its per-row results.

Each package runs in its own savepoint; a package already confirmed (same order, tracking
number and items) is reported as a duplicate, not confirmed again.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from fulfillment.adapters import flatfile
from fulfillment.domain import commands as cmd
from fulfillment.domain.errors import FulfillmentError, InvalidInput
from fulfillment.domain.model import ItemQuantity
from fulfillment.service_layer import handlers
from fulfillment.service_layer.unit_of_work import UnitOfWork
from shared import uploads
from shared.clock import Clock
from shared.inputs import scrub

MAX_RESULTS = 5000


async def register(
    uow: UnitOfWork, *, seller_id: str, filename: str | None, content: bytes
) -> tuple[Any, bool]:
    """Store the file as a queued job; returns (upload row, whether it was a duplicate)."""
    rows = flatfile.read_rows(content)
    return await uploads.register(
        uow.uploads, seller_id=seller_id, filename=filename, content=content, rows_total=len(rows)
    )


def job(
    new_uow: Callable[[], UnitOfWork], *, clock: Clock, chunk: int
) -> uploads.Job[UnitOfWork, flatfile.Package]:
    async def apply(
        uow: UnitOfWork, upload: Any, batch: Sequence[flatfile.Package], _: bool
    ) -> dict[str, Any]:
        results = [await _confirm_in_savepoint(uow, upload.seller_id, p, clock()) for p in batch]
        return _counters(upload, results)

    return uploads.Job(
        name="shipment upload",
        new_uow=new_uow,
        items=lambda upload: flatfile.packages_of(flatfile.read_rows(upload.content)),
        done=_packages_done,
        apply=apply,
        chunk=chunk,
        clock=clock,
    )


def _packages_done(upload: Any, packages: Sequence[flatfile.Package]) -> int:
    done_rows = upload.rows_processed
    count = 0
    for package in packages:
        if done_rows <= 0:
            break
        done_rows -= len(package.rows)
        count += 1
    return count


async def _confirm_in_savepoint(
    uow: UnitOfWork, seller_id: str, package: flatfile.Package, now: datetime
) -> dict[str, Any]:
    result: dict[str, Any] = {"rows": list(package.rows), "order_id": scrub(package.order_id, 64)}
    refused = flatfile.problems(package)
    if refused:
        return result | {"result": "rejected", "errors": refused}
    try:
        command = _command(seller_id, package, now)
        async with uow.attempt():
            shipment, created = await handlers.confirm_shipment(uow, command, now=now)
    except FulfillmentError as exc:
        field = exc.field if isinstance(exc, InvalidInput) else None
        return result | {"result": "rejected", "errors": [{"field": field, "message": str(exc)}]}
    outcome = "accepted" if created else "duplicate"
    return result | {"result": outcome, "shipment_id": shipment.shipment_id, "errors": []}


def _command(seller_id: str, p: flatfile.Package, now: datetime) -> cmd.ConfirmShipment:
    if not p.order_id:
        raise InvalidInput("order-id", "required")
    try:
        ship_date = flatfile.parse_ship_date(p.ship_date, now)
    except ValueError as exc:
        raise InvalidInput(
            "ship-date", "not a date or date-time in the years 1970 to 2099"
        ) from exc
    return cmd.ConfirmShipment(
        amazon_order_id=p.order_id,
        seller_id=seller_id,
        carrier_code=p.carrier_code,
        carrier_name=p.carrier_name,
        ship_method=p.ship_method,
        tracking_number=p.tracking_number,
        ship_date=ship_date,
        items=_items(p),
    )


def _items(p: flatfile.Package) -> tuple[ItemQuantity, ...] | None:
    if all(not item_id for item_id, _ in p.items):
        return None
    lines = []
    for item_id, quantity in p.items:
        if not item_id:
            raise InvalidInput("order-item-id", "blank on one row but given on another")
        if not quantity.isascii() or not quantity.isdigit():
            raise InvalidInput("quantity", "not a whole number")
        lines.append(ItemQuantity(item_id, int(quantity)))
    return tuple(lines)


def _counters(upload: Any, results: list[dict[str, Any]]) -> dict[str, Any]:
    rows = sum(len(r["rows"]) for r in results)
    rejected = sum(len(r["rows"]) for r in results if r["result"] == "rejected")
    kept = list(upload.results)
    kept += results[: max(0, MAX_RESULTS - len(kept))]
    return {
        "rows_processed": upload.rows_processed + rows,
        "rows_accepted": upload.rows_accepted + rows - rejected,
        "rows_rejected": upload.rows_rejected + rejected,
        "results": kept,
    }
