"""Fulfillment's tables: orders (the aggregate as a document plus the columns searched on)
and shipment-confirmation uploads.

``item_titles`` (the items' titles, one a line) and ``search_keys`` (one token a line for each
equality filter the order answers to) are written with every row by the repository, from the
order itself; the search reads them through their indexes
(docs/adr/0054-manage-orders-search-indexes.md).
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    Table,
    Text,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB, UUID

from shared.messaging.tables import define_plumbing

metadata = MetaData()
plumbing = define_plumbing(metadata)

orders = Table(
    "orders",
    metadata,
    Column("amazon_order_id", Text, primary_key=True),
    Column("seller_id", Text, nullable=False),
    Column("status", Text, nullable=False),
    Column("fulfillment_channel", Text),
    Column("sales_channel", Text),
    Column("ship_service_level", Text),
    Column("purchase_date", DateTime(timezone=True), nullable=False),
    Column("latest_ship_date", DateTime(timezone=True)),
    Column("buyer_email_hash", Text),
    Column("flagged_late_at", DateTime(timezone=True)),
    Column("snapshot_version", BigInteger, nullable=False),
    Column("version", BigInteger, nullable=False),
    Column("doc", JSONB, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("item_titles", Text),
    Column("search_keys", Text),
    Index("ix_orders_seller_purchase", "seller_id", "purchase_date", "amazon_order_id"),
    Index(
        "ix_orders_seller_ship_by",
        "seller_id",
        text("coalesce(latest_ship_date, 'infinity'::timestamp with time zone)"),
        "amazon_order_id",
    ),
    Index("ix_orders_email", "buyer_email_hash"),
    Index(
        "ix_orders_ship_late_due",
        "latest_ship_date",
        postgresql_where=text(
            "flagged_late_at IS NULL AND fulfillment_channel = 'MFN' "
            "AND status IN ('Unshipped', 'PartiallyShipped')"
        ),
    ),
    Index(
        "ix_orders_pii_due",
        "updated_at",
        postgresql_where=text(
            "status IN ('Shipped', 'Canceled') AND "
            "(jsonb_typeof(doc -> 'buyer_pii') = 'object' OR buyer_email_hash IS NOT NULL)"
        ),
    ),
    Index(
        "ix_orders_item_titles",
        "item_titles",
        postgresql_using="gin",
        postgresql_ops={"item_titles": "gin_trgm_ops"},
    ),
    Index(
        "ix_orders_search_keys",
        text("string_to_array(search_keys, '\n'::text)"),  # as PostgreSQL prints it back
        postgresql_using="gin",
    ),
)

shipment_uploads = Table(
    "shipment_uploads",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("seller_id", Text, nullable=False),
    Column("filename", Text),
    Column("sha256", Text, nullable=False),
    Column("content", LargeBinary, nullable=False),
    Column("status", Text, nullable=False, server_default="queued"),
    Column("rows_total", Integer, nullable=False, server_default="0"),
    Column("rows_processed", Integer, nullable=False, server_default="0"),
    Column("rows_accepted", Integer, nullable=False, server_default="0"),
    Column("rows_rejected", Integer, nullable=False, server_default="0"),
    Column("results", JSONB, nullable=False, server_default=text("'[]'::jsonb")),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("finished_at", DateTime(timezone=True)),
    Index("ux_shipment_uploads_seller_sha", "seller_id", "sha256", unique=True),
)
