"""Alembic helpers every service's migration history uses."""

from __future__ import annotations

import asyncio
from pathlib import Path

import sqlalchemy as sa
from alembic import command, op
from alembic.config import Config
from sqlalchemy import MetaData
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import create_async_engine


def alembic_config(migrations_dir: Path, database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(migrations_dir))
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


def upgrade_to_head(migrations_dir: Path, database_url: str) -> None:
    command.upgrade(alembic_config(migrations_dir, database_url), "head")


def run_async_migrations(database_url: str, target_metadata: MetaData | None) -> None:
    """Body of a service's ``migrations/env.py`` in online mode, on the async driver."""
    from alembic import context

    async def run() -> None:
        engine = create_async_engine(database_url)
        async with engine.connect() as connection:
            await connection.run_sync(_configure_and_run, target_metadata)
            await connection.commit()
        await engine.dispose()

    def _configure_and_run(connection: object, metadata: MetaData | None) -> None:
        context.configure(connection=connection, target_metadata=metadata)  # type: ignore[arg-type]
        with context.begin_transaction():
            context.run_migrations()

    asyncio.run(run())


# ---- steps for the plumbing tables every service has ----------------------------------------
# A service's revision calls the step, so the table is the same in every database and a change
# to it is written once (as a new step that every history calls).


def create_idempotency_keys() -> None:
    """The ``idempotency_keys`` table (docs/adr/0040-idempotency-keys.md): one row per key and
    scope, claimed by one attempt at a time, kept with its first response; housekeeping
    deletes rows past ``IDEMPOTENCY_KEY_HOURS`` through a BRIN index on their creation time."""
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


def drop_idempotency_keys() -> None:
    op.drop_index("ix_idempotency_keys_created_brin", table_name="idempotency_keys")
    op.drop_table("idempotency_keys")


def create_audit_log() -> None:
    """The ``audit_log`` table (docs/adr/0050-audit-trail.md): one entry per change made
    through the API, written in the change's transaction; append-only, enforced by a trigger
    that refuses UPDATE, DELETE and TRUNCATE."""
    op.create_table(
        "audit_log",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column(
            "at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.Column("key_name", sa.Text(), nullable=False),
        sa.Column("role", sa.Text(), nullable=False),
        sa.Column("seller_id", sa.Text(), nullable=True),
        sa.Column("operation", sa.Text(), nullable=False),
        sa.Column("method", sa.Text(), nullable=False),
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("resource_type", sa.Text(), nullable=True),
        sa.Column("resource_id", sa.Text(), nullable=True),
        sa.Column("status_before", sa.Text(), nullable=True),
        sa.Column("status_after", sa.Text(), nullable=True),
        sa.Column("outcome", sa.Text(), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("correlation_id", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_audit_log_seller", "audit_log", ["seller_id", "id"])
    op.create_index("ix_audit_log_resource", "audit_log", ["resource_id", "id"])
    op.create_index("ix_audit_log_at_brin", "audit_log", ["at"], postgresql_using="brin")
    op.execute(
        "CREATE OR REPLACE FUNCTION orderflow_audit_append_only() RETURNS trigger "
        "LANGUAGE plpgsql AS $$ BEGIN "
        "RAISE EXCEPTION 'audit_log is append-only: % refused', TG_OP "
        "USING ERRCODE = 'insufficient_privilege'; END $$"
    )
    op.execute(
        "CREATE OR REPLACE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log "
        "FOR EACH ROW EXECUTE FUNCTION orderflow_audit_append_only()"
    )
    op.execute(
        "CREATE OR REPLACE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log "
        "FOR EACH STATEMENT EXECUTE FUNCTION orderflow_audit_append_only()"
    )


def drop_audit_log() -> None:
    op.drop_table("audit_log")  # its indexes and triggers go with it
    op.execute("DROP FUNCTION orderflow_audit_append_only()")
