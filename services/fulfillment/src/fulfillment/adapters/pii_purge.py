"""SQL that removes buyer PII fulfillment no longer needs (policy: service_layer/pii_retention.py).

An order's closing moment is read from its document: for a Canceled order the seller's
cancellation time, or Amazon's LastUpdateDate when Amazon or the buyer canceled it; for a
Shipped one the latest of LastUpdateDate and the shipments' ship dates.
Each statement handles at most ``limit`` rows, claimed with ``FOR UPDATE SKIP LOCKED`` so
several API replicas can run the job side by side, and answers how many rows it changed.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

_CLOSED_AT = """
    CASE WHEN status = 'Canceled' THEN COALESCE(
        CASE WHEN doc -> 'cancellation' ->> 'canceled_by' = 'seller'
             THEN (doc -> 'cancellation' ->> 'canceled_at')::timestamptz END,
        (doc ->> 'last_update_date')::timestamptz
    ) ELSE GREATEST(
        (doc ->> 'last_update_date')::timestamptz,
        (SELECT max((s ->> 'ship_date')::timestamptz)
         FROM jsonb_array_elements(doc -> 'shipments') AS s)
    ) END
"""

# The sealed PII and the e-mail hash (searchable, so also personal data) leave the document
# and the column; pii_removed_at stays in the document (GET /v1/orders/{id} shows it and the
# packing slip answers 410).
_ORDERS = text(
    f"""
    UPDATE orders
    SET doc = doc || jsonb_build_object(
            'buyer_pii', NULL, 'buyer_email_hash', NULL, 'pii_removed_at', CAST(:now_iso AS text)
        ),
        buyer_email_hash = NULL
    WHERE amazon_order_id IN (
        SELECT amazon_order_id FROM orders
        WHERE status IN ('Shipped', 'Canceled')
          AND (jsonb_typeof(doc -> 'buyer_pii') = 'object' OR buyer_email_hash IS NOT NULL)
          AND {_CLOSED_AT} < :cutoff
        ORDER BY updated_at
        LIMIT :limit
        FOR UPDATE SKIP LOCKED
    )
    """
)

# Dead-lettered orders.v1 messages keep their payload for replay; after N days the sealed
# buyer PII in it is blanked (a replay then applies the order without PII).
_DEAD_LETTERS = text(
    """
    UPDATE dead_letters
    SET payload = convert_to(
        jsonb_set(convert_from(payload, 'UTF8')::jsonb, '{data,buyer_pii}', 'null'::jsonb)::text,
        'UTF8'
    )
    WHERE id IN (
        SELECT id FROM dead_letters
        WHERE failed_at < :cutoff
          AND convert_from(payload, 'UTF8') LIKE '%"buyer_pii":{%'
          AND jsonb_typeof(convert_from(payload, 'UTF8')::jsonb -> 'data' -> 'buyer_pii')
              = 'object'
        ORDER BY id
        LIMIT :limit
        FOR UPDATE SKIP LOCKED
    )
    """
)

STATEMENTS = {"orders": _ORDERS, "dead_letters": _DEAD_LETTERS}


async def purge_batch(
    session: AsyncSession, store: str, *, cutoff: datetime, now: datetime, limit: int
) -> int:
    """Remove buyer PII from up to ``limit`` rows of ``store`` due before ``cutoff``."""
    params: dict[str, object] = {"cutoff": cutoff, "limit": limit}
    if store == "orders":
        params["now_iso"] = now.isoformat()
    result = await session.execute(STATEMENTS[store], params)
    return int(result.rowcount)  # type: ignore[attr-defined]
