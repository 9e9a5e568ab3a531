"""Buyer PII retention: gone PII_RETENTION_DAYS after an order ships or is canceled.

Amazon's Data Protection Policy lets a seller keep buyer PII only as long as needed to fulfil
the order and meet tax or legal duties, at most 30 days after delivery by default. Ingest holds
PII in four places, each purged in batches by the shared job (``shared.pii_retention``) with
the statements below:

- ``orders.snapshot.buyer_pii``: removed once the order is Shipped or Canceled and its
  LastUpdateDate is older than N days; ``orders.pii_removed_at`` records when, and
  ``GET /v1/orders/{id}`` then says ``pii_status: removed``;
- ``quarantine.sealed_input`` (the rejected input, sealed): N days after it was received;
- ``uploads.content`` (flat files, sealed): emptied when the upload's job is done; a file a
  job left behind (stored before that) N days after the upload finished;
- sealed buyer PII in the payloads of sent outbox rows older than N days (if still kept).

Kafka keeps the sealed (ciphertext) snapshots in orders.v1 until topic retention deletes them;
crypto-shredding (a key per order) is the complete answer and is not built.
"""

from __future__ import annotations

from sqlalchemy import text

from shared.pii_retention import blank_buyer_pii_in_payloads

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
_OUTBOX = blank_buyer_pii_in_payloads(
    "outbox",
    due="created_at < :cutoff AND sent_at < :cutoff",  # created_at: what BRIN finds
)

STATEMENTS = {
    "orders": _ORDERS,
    "quarantine": _QUARANTINE,
    "uploads": _UPLOADS,
    "outbox": _OUTBOX,
}
