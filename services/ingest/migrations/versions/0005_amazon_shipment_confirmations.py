"""amazon_shipment_confirmations: shipment confirmations pushed to Amazon (confirmShipment)

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-26 07:07:12.639775
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "amazon_shipment_confirmations",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("seller_id", sa.Text(), nullable=False),
        sa.Column("amazon_order_id", sa.Text(), nullable=False),
        sa.Column("shipment_id", sa.Text(), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.Column("event_type", sa.Text(), nullable=False),
        sa.Column("connection_id", sa.UUID(), nullable=True),
        sa.Column("payload", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column(
            "next_attempt_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_amazon_confirmations_due",
        "amazon_shipment_confirmations",
        ["next_attempt_at"],
        unique=False,
        postgresql_where=sa.text("status = 'pending'"),
    )
    op.create_index(
        "ix_amazon_confirmations_order",
        "amazon_shipment_confirmations",
        ["amazon_order_id", "created_at"],
        unique=False,
    )
    op.create_index(
        "ix_amazon_confirmations_seller_status",
        "amazon_shipment_confirmations",
        ["seller_id", "status", "created_at", "id"],
        unique=False,
    )
    op.create_index(
        "ux_amazon_confirmations_shipment_version",
        "amazon_shipment_confirmations",
        ["shipment_id", "version"],
        unique=True,
    )


def downgrade() -> None:
    op.drop_index(
        "ux_amazon_confirmations_shipment_version", table_name="amazon_shipment_confirmations"
    )
    op.drop_index(
        "ix_amazon_confirmations_seller_status", table_name="amazon_shipment_confirmations"
    )
    op.drop_index("ix_amazon_confirmations_order", table_name="amazon_shipment_confirmations")
    op.drop_index(
        "ix_amazon_confirmations_due",
        table_name="amazon_shipment_confirmations",
        postgresql_where=sa.text("status = 'pending'"),
    )
    op.drop_table("amazon_shipment_confirmations")
