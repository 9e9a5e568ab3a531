"""Database plumbing: engine and session helpers, bulk statements, migrations and the
idempotency store (the messaging tables are in ``shared.messaging.tables``)."""
