"""Analytics' read models: orders, items, shipments, cases, ad rows, Amazon's account-health
figures; events seen; alerts."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    Index,
    Integer,
    MetaData,
    Numeric,
    Table,
    Text,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB, UUID

from shared.messaging.tables import define_plumbing

metadata = MetaData()
plumbing = define_plumbing(metadata)

MONEY = Numeric(18, 4)

orders = Table(
    "orders",
    metadata,
    Column("amazon_order_id", Text, primary_key=True),
    Column("seller_id", Text, nullable=False),
    Column("version", BigInteger, nullable=False),
    Column("marketplace_id", Text),
    Column("fulfillment_channel", Text),
    Column("order_status", Text, nullable=False),
    Column("purchase_date", DateTime(timezone=True), nullable=False),
    Column("last_update_date", DateTime(timezone=True), nullable=False),
    Column("latest_ship_date", DateTime(timezone=True)),
    Column("latest_delivery_date", DateTime(timezone=True)),
    Column("currency_code", Text),
    Column("order_total", MONEY),
    Column("units", Integer, nullable=False, server_default="0"),
    Column("is_buyer_requested_cancel", Boolean, nullable=False, server_default="false"),
    Column("is_replacement_order", Boolean, nullable=False, server_default="false"),
    Column("replaced_order_id", Text),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Index("ix_orders_seller_purchase", "seller_id", "purchase_date"),
)

order_items = Table(
    "order_items",
    metadata,
    Column("amazon_order_id", Text, primary_key=True),
    Column("order_item_id", Text, primary_key=True),
    Column("seller_id", Text, nullable=False),
    Column("asin", Text, nullable=False),
    Column("seller_sku", Text),
    Column("quantity", Integer, nullable=False),
    Column("item_price", MONEY),
    Column("currency_code", Text),
    Index("ix_order_items_seller_asin", "seller_id", "asin"),
)

# Sales by day, kept by the consumer in the transaction that writes the orders (docs/adr/0055):
# one row per seller, day of the order's marketplace calendar, kind and key. Kinds: "order"
# (dim1 marketplace, dim2 channel: orders/units/revenue of the sales, canceled and replacement
# counts), "sku" (dim1 seller SKU else ASIN), "asin" (dim1 ASIN), "items" (per currency) and
# "sku_asin" (dim1 SKU, dim2 its ASIN): the items of the sales, orders counted once per key.
daily_sales = Table(
    "daily_sales",
    metadata,
    Column("seller_id", Text, primary_key=True),
    Column("kind", Text, primary_key=True),
    Column("day", Date, primary_key=True),
    Column("currency_code", Text, primary_key=True),
    Column("dim1", Text, primary_key=True),
    Column("dim2", Text, primary_key=True),
    Column("orders", BigInteger, nullable=False),
    Column("units", BigInteger, nullable=False),
    Column("revenue", Numeric(20, 4), nullable=False),
    Column("canceled", BigInteger, nullable=False),
    Column("replacements", BigInteger, nullable=False),
    # A page of SKUs reads the series of its own SKUs alone (docs/adr/0060).
    Index("ix_daily_sales_sku", "seller_id", "dim1", "day", postgresql_where=text("kind = 'sku'")),
)

fulfillment_orders = Table(
    "fulfillment_orders",
    metadata,
    Column("amazon_order_id", Text, primary_key=True),
    Column("seller_id", Text, nullable=False),
    Column("version", BigInteger, nullable=False),
    Column("marketplace_id", Text),
    Column("fulfillment_channel", Text),
    Column("order_status", Text),
    Column("latest_ship_date", DateTime(timezone=True)),
    Column("ship_late_at", DateTime(timezone=True)),
    Column("ship_late_version", BigInteger),
    Column("canceled_at", DateTime(timezone=True)),
    Column("canceled_by", Text),
    Column("cancel_reason", Text),
    Column("cancel_buyer_requested", Boolean),
    Column("cancel_version", BigInteger),
    Column("purchase_date", DateTime(timezone=True)),
    Index("ix_fulfillment_orders_seller", "seller_id"),
)

shipments = Table(
    "shipments",
    metadata,
    Column("shipment_id", Text, primary_key=True),
    Column("amazon_order_id", Text, nullable=False),
    Column("seller_id", Text, nullable=False),
    Column("version", BigInteger, nullable=False),
    Column("fulfillment_channel", Text),
    Column("ship_date", DateTime(timezone=True), nullable=False),
    Column("latest_ship_date", DateTime(timezone=True)),
    Column("on_time", Boolean, nullable=False),
    Column("valid_tracking", Boolean, nullable=False),
    Column("carrier_code", Text, nullable=False),
    # What the carriers' scans say (docs/adr/0051-account-health-as-amazon-measures-it.md).
    Column("latest_delivery_date", DateTime(timezone=True)),
    Column("tracking_given_at", DateTime(timezone=True)),
    Column("first_scan_at", DateTime(timezone=True)),
    Column("delivered_at", DateTime(timezone=True)),
    Index("ix_shipments_order", "amazon_order_id"),
    Index("ix_shipments_seller_date", "seller_id", "ship_date"),
    # on-time delivery's and valid tracking's windows (adapters/delivery.py, docs/adr/0059)
    Index(
        "ix_shipments_seller_promised",
        "seller_id",
        text("COALESCE(latest_delivery_date, ship_date)"),
    ),
)

defect_cases = Table(
    "defect_cases",
    metadata,
    Column("case_id", Text, primary_key=True),
    Column("kind", Text, nullable=False),
    Column("amazon_order_id", Text, nullable=False),
    Column("seller_id", Text, nullable=False),
    Column("version", BigInteger, nullable=False),
    Column("fulfillment_channel", Text),
    Column("order_purchase_date", DateTime(timezone=True)),
    Column("counts_toward_odr", Boolean, nullable=False),
    Column("odr_rule", Text, nullable=False),
    Column("status", Text, nullable=False),
    Index("ix_defect_cases_order", "amazon_order_id"),
    Index("ix_defect_cases_seller", "seller_id"),
)

# Account health by order, kept by the consumer in the transaction that writes the order's rows
# (docs/adr/0059): what the four tables above say about one order, merged into the facts the
# health metrics count (``adapters.health_orders``). Each index carries what its windows count,
# so a window's rows are read from the index alone.
health_orders = Table(
    "health_orders",
    metadata,
    Column("amazon_order_id", Text, primary_key=True),
    Column("seller_id", Text, primary_key=True),
    Column("channel", Text),
    Column("purchase_date", DateTime(timezone=True)),
    Column("due_date", DateTime(timezone=True)),  # latest ship date, else the first ship date
    Column("due", Boolean, nullable=False),  # not canceled before shipping
    Column("late", Boolean, nullable=False),  # shipped late, or flagged ship-late
    Column("seller_cancel", Boolean, nullable=False),  # canceled before shipping, seller side
    Column("defective", Boolean, nullable=False),
    Column("has_a_to_z", Boolean, nullable=False),
    Column("has_chargeback", Boolean, nullable=False),
    Column("has_negative_feedback", Boolean, nullable=False),
    Index(
        "ix_health_orders_seller_purchase",
        "seller_id",
        "purchase_date",
        postgresql_include=[
            "channel",
            "seller_cancel",
            "defective",
            "has_a_to_z",
            "has_chargeback",
            "has_negative_feedback",
        ],
    ),
    Index(
        "ix_health_orders_seller_due",
        "seller_id",
        "due_date",
        postgresql_include=["channel", "due", "late"],
    ),
)

# The health rollup by day (docs/adr/0059, ``adapters.health_days``): per seller, kind
# ("purchase", "due", "promised"), UTC day and channel, the counts the health windows sum over
# their whole days (read by seller, kind and a range of days: the primary key's order).
health_days = Table(
    "health_days",
    metadata,
    Column("seller_id", Text, primary_key=True),
    Column("kind", Text, primary_key=True),
    Column("day", Date, primary_key=True),
    Column("channel", Text, primary_key=True),
    *(
        Column(name, BigInteger, nullable=False)
        for name in (
            "orders",
            "defective",
            "a_to_z",
            "chargeback",
            "negative_feedback",
            "seller_cancel",
            "late",
            "scanned",
            "otd_of",
            "otd",
            "delivered_late",
            "no_delivery_scan",
            "tracking_after_delivery",
        )
    ),
)

ad_performance = Table(
    "ad_performance",
    metadata,
    Column("subject", Text, primary_key=True),
    Column("seller_id", Text, nullable=False),
    Column("version", BigInteger, nullable=False),
    Column("date", Date, nullable=False),
    Column("marketplace_id", Text),
    Column("campaign_id", Text, nullable=False),
    Column("asin", Text),
    Column("seller_sku", Text),
    Column("impressions", BigInteger, nullable=False),
    Column("clicks", BigInteger, nullable=False),
    Column("spend", MONEY, nullable=False),
    Column("attributed_orders", Integer, nullable=False),
    Column("attributed_units", Integer, nullable=False),
    Column("attributed_sales", MONEY, nullable=False),
    Column("currency_code", Text, nullable=False),
    Index("ix_ad_performance_seller_date", "seller_id", "date"),
)

# Ad figures by day, kept by the consumer in the transaction that writes the ad rows
# (docs/adr/0060): one row per seller, kind ("ad", and its sums "ad/week" by Monday and
# "ad/month" by first day), day, currency, ASIN and SKU ('' for none).
daily_ads = Table(
    "daily_ads",
    metadata,
    Column("seller_id", Text, primary_key=True),
    Column("kind", Text, primary_key=True),
    Column("day", Date, primary_key=True),
    Column("currency_code", Text, primary_key=True),
    Column("asin", Text, primary_key=True),
    Column("seller_sku", Text, primary_key=True),
    Column("attributed_orders", BigInteger, nullable=False),
    Column("spend", Numeric(20, 4), nullable=False),
    Column("attributed_sales", Numeric(20, 4), nullable=False),
    Column("clicks", BigInteger, nullable=False),
    Column("impressions", BigInteger, nullable=False),
    Column("ad_rows", BigInteger, nullable=False),
)

# Amazon's own account-health figures (``account_health.amazon_reported``): per seller and
# marketplace (``subject`` = ``<seller>:<marketplace>``), the newest report's metrics as the
# event carries them; a seller's connections in several regions each report their own.
amazon_account_health = Table(
    "amazon_account_health",
    metadata,
    Column("subject", Text, primary_key=True),
    Column("seller_id", Text, nullable=False),
    Column("marketplace_id", Text, nullable=False),
    Column("version", BigInteger, nullable=False),
    Column("report_id", Text, nullable=False),
    Column("reported_at", DateTime(timezone=True), nullable=False),
    Column("fetched_at", DateTime(timezone=True), nullable=False),
    Column("account_status", Text),
    Column("metrics", JSONB, nullable=False),
    Index("ix_amazon_account_health_seller", "seller_id"),
)

order_events = Table(
    "order_events",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=True),
    Column("event_id", UUID(as_uuid=True), nullable=False, unique=True),
    Column("topic", Text, nullable=False),
    Column("kafka_partition", Integer),
    Column("kafka_offset", BigInteger),
    Column("event_type", Text, nullable=False),
    Column("source", Text, nullable=False),
    Column("subject", Text, nullable=False),
    Column("seller_id", Text, nullable=False),
    Column("version", BigInteger, nullable=False),
    Column("applied", Boolean, nullable=False),
    Column("event_time", DateTime(timezone=True), nullable=False),
    Column("recorded_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Index("ix_order_events_subject", "subject", "id"),
    # Retention finds rows past EVENT_LOG_RETENTION_DAYS by age; rows are appended in time
    # order, so BRIN (a few pages, next to no cost per insert) finds them.
    Index("ix_order_events_recorded_brin", "recorded_at", postgresql_using="brin"),
)

alerts = Table(
    "alerts",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=True),
    Column("seller_id", Text, nullable=False),
    Column("metric", Text, nullable=False),
    Column("scope", Text, nullable=False),
    Column("state", Text, nullable=False),
    Column("status", Text, nullable=False),
    Column("value", Numeric(10, 4)),
    Column("numerator", Integer, nullable=False),
    Column("denominator", Integer, nullable=False),
    Column("threshold", Numeric(10, 4), nullable=False),
    Column("message", Text, nullable=False),
    Column("raised_at", DateTime(timezone=True), nullable=False),
    Column("cleared_at", DateTime(timezone=True)),
    Column("details", JSONB, nullable=False, server_default=text("'{}'::jsonb")),
    Index(
        "ux_alerts_active",
        "seller_id",
        "metric",
        "scope",
        unique=True,
        postgresql_where=text("state = 'active'"),
    ),
    Index("ix_alerts_seller", "seller_id", "id"),
)
