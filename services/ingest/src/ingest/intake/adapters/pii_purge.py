"""SQL that removes buyer PII ingest no longer needs (policy: service_layer/pii_retention.py).

Each statement handles at most ``limit`` rows, claimed with ``FOR UPDATE SKIP LOCKED`` so
several API replicas can run the job side by side, and answers how many rows it changed.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

# Amazon statuses after which an order's buyer PII is kept only PII_RETENTION_DAYS.
CLOSED_STATUSES = ("Shipped", "Canceled")

_ORDERS = text(
    """
    UPDATE orders SET snapshot = snapshot - 'buyer_pii', pii_removed_at = :now
    WHERE amazon_order_id IN (
        SELECT amazon_order_id FROM orders
        WHERE order_status IN ('Shipped', 'Canceled')
          AND (snapshot -> 'buyer_pii') IS NOT NULL
          AND last_update_date < :cutoff
        ORDER BY last_update_date
        LIMIT :limit
        FOR UPDATE SKIP LOCKED
    )
    """
)

_QUARANTINE = text(
    """
    UPDATE quarantine SET sealed_input = NULL
    WHERE id IN (
        SELECT id FROM quarantine
        WHERE sealed_input IS NOT NULL AND received_at < :cutoff
        ORDER BY id
        LIMIT :limit
        FOR UPDATE SKIP LOCKED
    )
    """
)

# Finished flat-file uploads keep their counts, errors and hash (duplicate detection); the
# file itself (buyer names and addresses) goes.
_UPLOADS = text(
    """
    UPDATE uploads SET content = ''::bytea
    WHERE id IN (
        SELECT id FROM uploads
        WHERE status = 'done' AND finished_at < :cutoff AND octet_length(content) > 0
        ORDER BY finished_at
        LIMIT :limit
        FOR UPDATE SKIP LOCKED
    )
    """
)

# Sent outbox rows are normally deleted by housekeeping (OUTBOX_RETENTION_DAYS) before this
# matters; if they are kept longer, their sealed buyer PII is blanked in place.
_OUTBOX = text(
    """
    UPDATE outbox
    SET payload = convert_to(
        jsonb_set(convert_from(payload, 'UTF8')::jsonb, '{data,buyer_pii}', 'null'::jsonb)::text,
        'UTF8'
    )
    WHERE id IN (
        SELECT id FROM outbox
        WHERE created_at < :cutoff AND sent_at < :cutoff  -- created_at: what BRIN finds
          AND jsonb_typeof(convert_from(payload, 'UTF8')::jsonb -> 'data' -> 'buyer_pii')
              = 'object'
        ORDER BY id
        LIMIT :limit
        FOR UPDATE SKIP LOCKED
    )
    """
)

STATEMENTS = {
    "orders": _ORDERS,
    "quarantine": _QUARANTINE,
    "uploads": _UPLOADS,
    "outbox": _OUTBOX,
}


async def purge_batch(
    session: AsyncSession, store: str, *, cutoff: datetime, now: datetime, limit: int
) -> int:
    """Remove buyer PII from up to ``limit`` rows of ``store`` older than ``cutoff``."""
    params = {"cutoff": cutoff, "limit": limit}
    if store == "orders":
        params["now"] = now
    result = await session.execute(STATEMENTS[store], params)
    return int(result.rowcount)  # type: ignore[attr-defined]
