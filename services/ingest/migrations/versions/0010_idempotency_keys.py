"""Idempotency keys: each POST or PATCH with an ``Idempotency-Key`` and its first response

One row per key and scope (a seller, or an API key without one), claimed by one attempt at a
time, marked committed in the transaction that does the work, and kept with the response to
answer retries. Housekeeping deletes rows older than ``IDEMPOTENCY_KEY_HOURS`` through a BRIN
index on their creation time. See docs/adr/0040-idempotency-keys.md.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07 18:10:00.000000
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "idempotency_keys",
        sa.Column("scope", sa.Text(), nullable=False),
        sa.Column("key", sa.Text(), nullable=False),
        sa.Column("fingerprint", sa.Text(), nullable=False),
        sa.Column("method", sa.Text(), nullable=False),
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("owner", sa.UUID(), nullable=False),
        sa.Column("locked_until", sa.DateTime(timezone=True), nullable=False),
        sa.Column("committed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("status", sa.Integer(), nullable=True),
        sa.Column("headers", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("body", sa.LargeBinary(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("scope", "key"),
    )
    op.create_index(
        "ix_idempotency_keys_created_brin",
        "idempotency_keys",
        ["created_at"],
        postgresql_using="brin",
    )


def downgrade() -> None:
    op.drop_index("ix_idempotency_keys_created_brin", table_name="idempotency_keys")
    op.drop_table("idempotency_keys")
