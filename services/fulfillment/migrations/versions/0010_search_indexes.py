"""Manage Orders search served by indexes at any history length
(docs/adr/0054-manage-orders-search-indexes.md).

Two columns the repository writes with every row: ``item_titles`` (the items' titles, one a
line, under a trigram index) and ``search_keys`` (one token a line for each equality filter
the order answers to, under a GIN index of its lines); existing rows are filled here from their
documents, as ``fulfillment.adapters.repository.order_tokens`` would. The two JSON GIN indexes
they replace are dropped. The latest_ship_date sort gets an index on its own key (an order
without one sorts last) in place of the index on the bare column.

``pg_trgm`` is a trusted extension (PostgreSQL 13+): the database's owner may create it. The
fill rewrites every order once, in this migration's transaction.
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0008"
branch_labels = None
depends_on = None

FILL = """
UPDATE orders SET
    item_titles = (
        SELECT string_agg(item ->> 'title', E'\\n' ORDER BY n)
        FROM jsonb_array_elements(doc -> 'items') WITH ORDINALITY AS i (item, n)
    ),
    search_keys = array_to_string(
        ARRAY[
            'status:' || status,
            'channel:' || fulfillment_channel,
            'sales_channel:' || sales_channel,
            'service:' || ship_service_level,
            CASE WHEN doc @> '{"is_prime": true}' THEN 'is_prime' END,
            CASE WHEN doc @> '{"is_business_order": true}' THEN 'is_business_order' END,
            CASE WHEN doc @> '{"is_replacement_order": true}' THEN 'is_replacement_order' END
        ]
        || ARRAY(
            SELECT token FROM jsonb_array_elements(doc -> 'items') AS item,
                LATERAL (VALUES ('asin:' || (item ->> 'asin')),
                    ('sku:' || (item ->> 'seller_sku'))) AS t (token)
        )
        || ARRAY(
            SELECT token FROM jsonb_array_elements(doc -> 'shipments') AS shipment,
                LATERAL (VALUES ('carrier:' || (shipment ->> 'carrier_code')),
                    ('tracking:' || (shipment ->> 'tracking_number'))) AS t (token)
        ),
        E'\\n'
    )
"""


def upgrade() -> None:
    op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    op.add_column("orders", sa.Column("item_titles", sa.Text(), nullable=True))
    op.add_column("orders", sa.Column("search_keys", sa.Text(), nullable=True))
    op.execute(FILL)
    op.execute("CREATE INDEX ix_orders_item_titles ON orders USING gin (item_titles gin_trgm_ops)")
    op.execute(
        "CREATE INDEX ix_orders_search_keys ON orders "
        "USING gin (string_to_array(search_keys, E'\\n'))"
    )
    op.execute(
        "CREATE INDEX ix_orders_seller_ship_by ON orders (seller_id, "
        "coalesce(latest_ship_date, 'infinity'::timestamp with time zone), amazon_order_id)"
    )
    op.drop_index("ix_orders_seller_lsd", table_name="orders")
    op.drop_index("ix_orders_doc_items", table_name="orders")
    op.drop_index("ix_orders_doc_shipments", table_name="orders")
    op.execute("ANALYZE orders")  # the planner's statistics of the new columns, from the start


def downgrade() -> None:
    op.create_index(
        "ix_orders_seller_lsd", "orders", ["seller_id", "latest_ship_date", "amazon_order_id"]
    )
    op.execute(
        "CREATE INDEX ix_orders_doc_items ON orders USING gin ((doc -> 'items') jsonb_path_ops)"
    )
    op.execute(
        "CREATE INDEX ix_orders_doc_shipments ON orders "
        "USING gin ((doc -> 'shipments') jsonb_path_ops)"
    )
    op.drop_index("ix_orders_seller_ship_by", table_name="orders")
    op.drop_index("ix_orders_search_keys", table_name="orders")
    op.drop_index("ix_orders_item_titles", table_name="orders")
    op.drop_column("orders", "search_keys")
    op.drop_column("orders", "item_titles")
