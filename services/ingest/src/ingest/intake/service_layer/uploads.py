"""Order reports uploaded as jobs (the mechanism: ``shared.uploads``), in chunks of orders.

An order report carries buyer PII (``buyer-email``, ``buyer-name``, ``buyer-phone-number``,
``recipient-name``, ``ship-address-*``): the file is kept sealed (``PIICipher.seal_bytes``) while
its job runs and emptied once it is done, and each order's PII is sealed into its snapshot by
the same code as a JSON order's (``handlers.accept_many``). Nothing of it is stored in clear.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

from ingest.intake.adapters import flatfile
from ingest.intake.domain.model import Rejected
from ingest.intake.service_layer import handlers
from ingest.intake.service_layer.unit_of_work import IntakeUnitOfWork as UnitOfWork
from shared import uploads
from shared.clock import Clock
from shared.pii import PIICipher, is_sealed_bytes

MAX_ERRORS = 1000


async def register(
    uow: UnitOfWork, *, seller_id: str, filename: str | None, content: bytes, pii: PIICipher
) -> tuple[Any, bool]:
    """Store the file (sealed) as a queued job; returns (upload row, whether it was a
    duplicate)."""
    rows = flatfile.read_rows(content)  # refuse an unreadable file now, not later
    return await uploads.register(
        uow.uploads,
        seller_id=seller_id,
        filename=filename,
        content=content,
        stored=pii.seal_bytes(content),
        rows_total=len(rows),
        orders_total=len({r.get("amazon-order-id") for _, r in rows}),
    )


def job(
    new_uow: Callable[[], UnitOfWork], *, pii: PIICipher, topic: str, chunk: int, clock: Clock
) -> uploads.Job[UnitOfWork, Any]:
    return uploads.Job(
        name="upload",
        new_uow=new_uow,
        items=lambda upload: flatfile.orders_of(flatfile.read_rows(_opened(upload.content, pii))),
        done=lambda upload, _: int(upload.orders_done),
        apply=partial(_apply, pii=pii, topic=topic),
        chunk=chunk,
        clock=clock,
    )


async def _apply(
    uow: UnitOfWork,
    upload: Any,
    batch: Sequence[Any],
    finished: bool,
    *,
    pii: PIICipher,
    topic: str,
) -> dict[str, Any]:
    outcomes = await handlers.accept_many(
        uow,
        seller_id=upload.seller_id,
        entries=list(batch),
        source="upload",
        pii=pii,
        topic=topic,
        upload_id=upload.id,
    )
    # Done: the file itself (sealed, with buyer PII in it) is no longer kept.
    return _counters(upload, batch, outcomes) | ({"content": b""} if finished else {})


def _opened(content: bytes, pii: PIICipher) -> bytes:
    """The file as uploaded (one stored before files were sealed is read as it is)."""
    return pii.open_bytes(content) if is_sealed_bytes(content) else content


def _counters(upload: Any, batch: Sequence[Any], outcomes: list[Any]) -> dict[str, Any]:
    rows_of = [len(e.rows or []) if isinstance(e, Rejected) else e.item_count or 1 for e in batch]
    rejected = [(o, n) for o, n in zip(outcomes, rows_of, strict=True) if isinstance(o, Rejected)]
    rows = sum(rows_of)
    rejected_rows = sum(n for _, n in rejected)
    errors = list(upload.errors)
    errors += [
        {"rows": o.rows, "amazon_order_id": o.amazon_order_id, "errors": o.reasons}
        for o, _ in rejected
    ][: max(0, MAX_ERRORS - len(errors))]
    return {
        "orders_done": upload.orders_done + len(batch),
        "rows_processed": upload.rows_processed + rows,
        "rows_accepted": upload.rows_accepted + rows - rejected_rows,
        "rows_rejected": upload.rows_rejected + rejected_rows,
        "errors": errors,
    }
