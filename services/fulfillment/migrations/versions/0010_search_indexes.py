"""Manage Orders search served by indexes at any history length
(docs/adr/0054-manage-orders-search-indexes.md): two generated columns, ``item_titles`` (the
items' titles, one per line, under a trigram index) and ``search_keys`` (one token per
equality filter an order answers to, under a GIN index); the two JSON GIN indexes they
replace are dropped.

``pg_trgm`` is a trusted extension (PostgreSQL 13+): the database's owner may create it.
Adding the generated columns rewrites the table once, under an exclusive lock.
"""

from alembic import op

revision = "0010"
down_revision = "0007"
branch_labels = None
depends_on = None

# The functions are IMMUTABLE (they read only their arguments), as a generated column needs.
# The tokens must be the ones fulfillment.adapters.repository.search_tokens asks for.
ITEM_TITLES = """
CREATE FUNCTION fulfillment_item_titles(items jsonb) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT string_agg(item ->> 'title', E'\\n') FROM jsonb_array_elements(items) AS item $$
"""

SEARCH_KEYS = """
CREATE FUNCTION fulfillment_search_keys(
    status text, fulfillment_channel text, sales_channel text, ship_service_level text, doc jsonb
) RETURNS text[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
SELECT array_remove(ARRAY[
        'status:' || status,
        'channel:' || fulfillment_channel,
        'sales_channel:' || sales_channel,
        'service:' || ship_service_level,
        CASE WHEN doc @> '{"is_prime": true}' THEN 'is_prime' END,
        CASE WHEN doc @> '{"is_business_order": true}' THEN 'is_business_order' END,
        CASE WHEN doc @> '{"is_replacement_order": true}' THEN 'is_replacement_order' END
    ], NULL)
    || ARRAY(
        SELECT DISTINCT token FROM jsonb_array_elements(doc -> 'items') AS item,
            LATERAL (VALUES ('asin:' || (item ->> 'asin')), ('sku:' || (item ->> 'seller_sku')))
                AS t (token)
        WHERE token IS NOT NULL
    )
    || ARRAY(
        SELECT DISTINCT token FROM jsonb_array_elements(doc -> 'shipments') AS shipment,
            LATERAL (
                VALUES ('carrier:' || (shipment ->> 'carrier_code')),
                    ('tracking:' || (shipment ->> 'tracking_number'))
            ) AS t (token)
        WHERE token IS NOT NULL
    )
$$
"""

ADD_COLUMNS = """
ALTER TABLE orders
    ADD COLUMN item_titles text
        GENERATED ALWAYS AS (fulfillment_item_titles(doc -> 'items')) STORED,
    ADD COLUMN search_keys text[]
        GENERATED ALWAYS AS (fulfillment_search_keys(
            status, fulfillment_channel, sales_channel, ship_service_level, doc)) STORED
"""


def upgrade() -> None:
    op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    op.execute(ITEM_TITLES)
    op.execute(SEARCH_KEYS)
    op.execute(ADD_COLUMNS)
    op.execute("CREATE INDEX ix_orders_item_titles ON orders USING gin (item_titles gin_trgm_ops)")
    op.execute("CREATE INDEX ix_orders_search_keys ON orders USING gin (search_keys)")
    op.drop_index("ix_orders_doc_items", table_name="orders")
    op.drop_index("ix_orders_doc_shipments", table_name="orders")
    op.execute("ANALYZE orders")  # the planner's statistics of the new columns, from the start


def downgrade() -> None:
    op.execute(
        "CREATE INDEX ix_orders_doc_items ON orders USING gin ((doc -> 'items') jsonb_path_ops)"
    )
    op.execute(
        "CREATE INDEX ix_orders_doc_shipments ON orders "
        "USING gin ((doc -> 'shipments') jsonb_path_ops)"
    )
    op.drop_index("ix_orders_search_keys", table_name="orders")
    op.drop_index("ix_orders_item_titles", table_name="orders")
    op.execute("ALTER TABLE orders DROP COLUMN search_keys, DROP COLUMN item_titles")
    op.execute("DROP FUNCTION fulfillment_search_keys(text, text, text, text, jsonb)")
    op.execute("DROP FUNCTION fulfillment_item_titles(jsonb)")
