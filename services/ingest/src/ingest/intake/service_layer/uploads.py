"""Flat-file uploads as jobs: registered at once, processed in chunks with visible progress.

Each chunk runs in one transaction that also advances the upload's counters, so progress is
exact and a crash resumes at the first unfinished chunk. The same file uploaded twice by the
same seller is recognised by its SHA-256 and not processed again.

An order report carries buyer PII (``buyer-email``, ``buyer-name``, ``buyer-phone-number``,
``recipient-name``, ``ship-address-*``): the file is kept sealed (``PIICipher.seal_bytes``) while
its job runs and emptied once it is done, and each order's PII is sealed into its snapshot by
the same code as a JSON order's (``handlers.accept_many``). Nothing of it is stored in clear.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from ingest.intake.adapters import flatfile
from ingest.intake.domain.model import Rejected
from ingest.intake.service_layer import handlers
from ingest.intake.service_layer.unit_of_work import IntakeUnitOfWork as UnitOfWork
from shared.pii import PIICipher, is_sealed_bytes

log = logging.getLogger(__name__)

MAX_ERRORS = 1000


async def register(
    uow: UnitOfWork, *, seller_id: str, filename: str | None, content: bytes, pii: PIICipher
) -> tuple[Any, bool]:
    """Store the file (sealed) as a queued job; returns (upload row, whether it was a
    duplicate)."""
    rows = flatfile.read_rows(content)  # refuse an unreadable file now, not later
    digest = flatfile.sha256(content)
    created = await uow.uploads.add(
        id=uuid.uuid4(),
        seller_id=seller_id,
        filename=filename,
        sha256=digest,
        content=pii.seal_bytes(content),
        rows_total=len(rows),
        orders_total=len({r.get("amazon-order-id") for _, r in rows}),
    )
    row = await uow.uploads.find_same(seller_id, digest)
    return row, not created


async def process(
    new_uow: Callable[[], UnitOfWork],
    upload_id: uuid.UUID,
    *,
    pii: PIICipher,
    topic: str,
    chunk: int,
) -> None:
    entries: list[Any] | None = None
    while True:
        async with new_uow() as uow:
            upload = await uow.uploads.get(upload_id, seller_id=None, lock=True)
            if upload is None or upload.status == "done":
                return
            if entries is None:
                entries = flatfile.orders_of(flatfile.read_rows(_opened(upload.content, pii)))
            batch = entries[upload.orders_done : upload.orders_done + chunk]
            outcomes = await handlers.accept_many(
                uow,
                seller_id=upload.seller_id,
                entries=batch,
                source="upload",
                pii=pii,
                topic=topic,
                upload_id=upload_id,
            )
            await uow.uploads.progress(upload_id, **_counters(upload, batch, outcomes))
            done = upload.orders_done + len(batch) >= len(entries)
            if done:
                await uow.uploads.finish(upload_id, datetime.now(UTC))
            await uow.commit()
        if done:
            log.info("upload processed", extra={"upload_id": str(upload_id)})
            return


def _opened(content: bytes, pii: PIICipher) -> bytes:
    """The file as uploaded (one stored before files were sealed is read as it is)."""
    return pii.open_bytes(content) if is_sealed_bytes(content) else content


def _counters(upload: Any, batch: list[Any], outcomes: list[Any]) -> dict[str, Any]:
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
        "status": "processing",
        "orders_done": upload.orders_done + len(batch),
        "rows_processed": upload.rows_processed + rows,
        "rows_accepted": upload.rows_accepted + rows - rejected_rows,
        "rows_rejected": upload.rows_rejected + rejected_rows,
        "errors": errors,
    }


async def resume_unfinished(
    new_uow: Callable[[], UnitOfWork], *, pii: PIICipher, topic: str, chunk: int
) -> None:
    async with new_uow() as uow:
        pending = await uow.uploads.unfinished()
    for upload_id in pending:
        await process(new_uow, upload_id, pii=pii, topic=topic, chunk=chunk)
