"""Buyer PII retention: gone PII_RETENTION_DAYS after an order ships or is canceled.

Amazon's Data Protection Policy lets a seller keep buyer PII only as long as needed to fulfil
the order and meet tax or legal duties. Fulfillment holds it in two places, purged in batches
by the shared job (``shared.pii_retention``) with the statements below:

- ``orders``: the sealed ``buyer_pii`` (packing slips) and ``buyer_email_hash`` (search by
  e-mail) of an order Shipped or Canceled more than N days ago; ``pii_removed_at`` records
  when. ``GET /v1/orders/{id}`` then says ``pii_status: removed``, the packing slip answers
  410 Gone, and later snapshots of the order do not bring the PII back;
- ``dead_letters``: sealed buyer PII in dead-lettered orders.v1 payloads older than N days.

Kafka keeps the sealed (ciphertext) snapshots in orders.v1 until topic retention deletes them;
crypto-shredding (a key per order) is the complete answer and is not built.

An order's closing moment is read from its document: for a Canceled order the seller's
cancellation time, or Amazon's LastUpdateDate when Amazon or the buyer canceled it; for a
Shipped one the latest of LastUpdateDate and the shipments' ship dates.
"""

from __future__ import annotations

from sqlalchemy import text

from shared.pii_retention import blank_buyer_pii_in_payloads

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
            'buyer_pii', NULL, 'buyer_email_hash', NULL, 'pii_removed_at', to_char(
                CAST(:now AS timestamptz) AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"+00:00"'
            )
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
_DEAD_LETTERS = blank_buyer_pii_in_payloads(
    "dead_letters",
    due="""failed_at < :cutoff AND convert_from(payload, 'UTF8') LIKE '%"buyer_pii":{%'""",
)

STATEMENTS = {"orders": _ORDERS, "dead_letters": _DEAD_LETTERS}
