"""Ingest's tables: orders as last accepted, quarantined input, flat-file uploads."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    Date,
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
    Column("marketplace_id", Text),
    Column("order_status", Text, nullable=False),
    Column("last_update_date", DateTime(timezone=True), nullable=False),
    Column("version", BigInteger, nullable=False),
    Column("item_count", Integer, nullable=False, server_default="0"),
    Column("snapshot", JSONB, nullable=False),
    Column("intake_source", Text, nullable=False),
    Column("received_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    # When the buyer PII was removed (PII_RETENTION_DAYS after Shipped/Canceled; see
    # adapters/pii_purge.py).
    Column("pii_removed_at", DateTime(timezone=True)),
    Index("ix_orders_seller", "seller_id", "received_at"),
    Index(
        "ix_orders_pii_due",
        "last_update_date",
        postgresql_where=text(
            "order_status IN ('Shipped', 'Canceled') AND (snapshot -> 'buyer_pii') IS NOT NULL"
        ),
    ),
)

quarantine = Table(
    "quarantine",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=True),
    Column("seller_id", Text),
    Column("source", Text, nullable=False),
    Column("amazon_order_id", Text),
    Column("reasons", JSONB, nullable=False),
    Column("sealed_input", Text),
    Column("upload_id", UUID(as_uuid=True)),
    Column("row_numbers", JSONB),
    Column("received_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Index("ix_quarantine_seller", "seller_id", "id"),
    Index("ix_quarantine_order", "amazon_order_id"),
)

uploads = Table(
    "uploads",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("seller_id", Text, nullable=False),
    Column("filename", Text),
    Column("sha256", Text, nullable=False),
    Column("content", LargeBinary, nullable=False),
    Column("status", Text, nullable=False, server_default="queued"),
    Column("rows_total", Integer, nullable=False, server_default="0"),
    Column("orders_total", Integer, nullable=False, server_default="0"),
    Column("orders_done", Integer, nullable=False, server_default="0"),
    Column("rows_processed", Integer, nullable=False, server_default="0"),
    Column("rows_accepted", Integer, nullable=False, server_default="0"),
    Column("rows_rejected", Integer, nullable=False, server_default="0"),
    Column("errors", JSONB, nullable=False, server_default=text("'[]'::jsonb")),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("finished_at", DateTime(timezone=True)),
    Index("ux_uploads_seller_sha", "seller_id", "sha256", unique=True),
)

ad_rows = Table(
    "ad_rows",
    metadata,
    Column("subject", Text, primary_key=True),
    Column("seller_id", Text, nullable=False),
    Column("report_date", Date, nullable=False),
    Column("campaign_id", Text, nullable=False),
    Column("version", BigInteger, nullable=False),
    Column("row", JSONB, nullable=False),
    Column("received_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Index("ix_ad_rows_seller_date", "seller_id", "report_date"),
)

# SP-API seller connections: credentials sealed; the sync cursor, the window being
# read and the page reached, and a lease so one ingest instance syncs a connection at a time.
spapi_connections = Table(
    "spapi_connections",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("seller_id", Text, nullable=False),
    Column("selling_partner_id", Text, nullable=False),
    Column("region", Text, nullable=False),
    Column("marketplace_ids", JSONB, nullable=False),
    Column("orders_api", Text, nullable=False),
    Column("endpoint", Text, nullable=False),
    Column("lwa_token_url", Text),
    Column("sealed_credentials", Text, nullable=False),
    Column("status", Text, nullable=False),
    Column("last_updated_after", DateTime(timezone=True), nullable=False),
    Column("window_before", DateTime(timezone=True)),
    Column("page_token", Text),
    Column("next_sync_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("lease_owner", Text),
    Column("lease_until", DateTime(timezone=True)),
    Column("last_sync_at", DateTime(timezone=True)),
    Column("last_error", Text),
    Column("orders_synced", BigInteger, nullable=False, server_default="0"),
    # Amazon's notifications for this connection (amazon/service_layer/subscriptions.py): the
    # SQS destination, {notificationType: {subscription_id, destination_id, status}}, last error.
    Column("notification_destination_id", Text),
    Column("notification_subscriptions", JSONB, nullable=False, server_default="{}"),
    Column("notifications_error", Text),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Index("ux_spapi_connections_partner_region", "selling_partner_id", "region", unique=True),
    Index("ix_spapi_connections_seller", "seller_id"),
)

# ORDER_CHANGE notifications taken, one row per NotificationId (repeats do nothing).
spapi_notifications = Table(
    "spapi_notifications",
    metadata,
    Column("notification_id", Text, primary_key=True),
    Column("seller_id", Text, nullable=False),
    Column("selling_partner_id", Text, nullable=False),
    Column("amazon_order_id", Text, nullable=False),
    Column("change_type", Text),
    Column("event_time", DateTime(timezone=True)),
    Column("result", Text, nullable=False),
    Column("received_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

# Everything sent to Amazon (docs/adr/0046-amazon-submissions.md), one row per action, written
# with the inbox row of the fulfillment.v1 event that asked for it: the outbox of the call to
# Amazon. kind: shipment_confirmation (confirmShipment, one per (shipment, fulfillment
# version)), cancellation or adjustment (feed messages, one per (kind, seller, reference)).
# status: pending | submitted (in a feed) | sent | accepted | failed | skipped.
amazon_submissions = Table(
    "amazon_submissions",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("kind", Text, nullable=False),
    Column("seller_id", Text, nullable=False),
    Column("amazon_order_id", Text, nullable=False),
    Column("shipment_id", Text),
    Column("reference", Text),
    Column("version", BigInteger, nullable=False),
    Column("event_type", Text, nullable=False),
    Column("connection_id", UUID(as_uuid=True)),
    Column("marketplace_id", Text),
    Column("feed_type", Text),
    Column("payload", JSONB, nullable=False),
    Column("status", Text, nullable=False),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("last_error", Text),
    Column("result_code", Text),
    Column("next_attempt_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("feed_id", Text),
    Column("message_id", Integer),
    Column("submitted_at", DateTime(timezone=True)),
    Column("sent_at", DateTime(timezone=True)),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Index("ux_amazon_submissions_shipment_version", "shipment_id", "version", unique=True),
    Index(
        "ux_amazon_submissions_reference",
        "kind",
        "seller_id",
        "reference",
        unique=True,
        postgresql_where=text("reference IS NOT NULL"),
    ),
    Index(
        "ix_amazon_submissions_due",
        "next_attempt_at",
        postgresql_where=text("status = 'pending'"),
    ),
    Index("ix_amazon_submissions_feed", "feed_id", postgresql_where=text("status = 'submitted'")),
    Index("ix_amazon_submissions_order", "amazon_order_id", "created_at"),
    Index("ix_amazon_submissions_seller_status", "seller_id", "status", "created_at", "id"),
)

# Amazon's seller performance reports (GET_V2_SELLER_PERFORMANCE_REPORT), one row per request
# per connection (docs/adr/0051-account-health-as-amazon-measures-it.md). status: requesting
# (claimed; createReport not answered yet) | requested (Amazon's report_id known, followed) |
# done (its document stored and announced) | failed. next_check_at: when a pass may take the
# row next (a lease while one works on it).
amazon_performance_reports = Table(
    "amazon_performance_reports",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=True),
    Column("seller_id", Text, nullable=False),
    Column("connection_id", UUID(as_uuid=True), nullable=False),
    Column("marketplace_ids", JSONB, nullable=False),
    Column("status", Text, nullable=False),
    Column("report_id", Text),
    Column("requested_at", DateTime(timezone=True), nullable=False),
    Column("next_check_at", DateTime(timezone=True), nullable=False),
    Column("finished_at", DateTime(timezone=True)),
    Column("reported_at", DateTime(timezone=True)),
    Column("document", JSONB),
    Column("error", Text),
    Index("ix_amazon_performance_reports_connection", "connection_id", "requested_at"),
    Index(
        "ix_amazon_performance_reports_open",
        "next_check_at",
        postgresql_where=text("status IN ('requesting', 'requested')"),
    ),
)
