"""Alembic environment for ingest: the URL comes from settings, never from a file."""

from alembic import context

from ingest.adapters.orm import metadata
from shared.db.migrations import run_async_migrations

run_async_migrations(context.config.get_main_option("sqlalchemy.url") or "", metadata)
