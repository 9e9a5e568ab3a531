"""Alembic helpers every service's migration history uses."""

from __future__ import annotations

import asyncio
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import MetaData
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
