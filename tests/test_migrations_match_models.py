"""Each service's migrations build exactly the schema its models describe.

The plumbing tables (outbox, inbox, dead letters) are defined once in ``shared.db.plumbing``
but created by each service's own, frozen migrations; a column or index added to one place and
not the other would only show in production. Alembic's autogenerate compares the migrated
database with the models and must find nothing to do.
"""

from __future__ import annotations

import asyncio
import importlib
from collections.abc import Callable

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from shared.db.migrations import upgrade_to_head

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("service", ["ingest", "fulfillment", "defects", "analytics"])
# fulfillment's GIN indexes on JSON expressions cannot be compared; the rest still is
@pytest.mark.filterwarnings("ignore:Expression #1:UserWarning")
async def test_migrations_build_the_models_schema(
    service: str, make_database: Callable[[str], str]
) -> None:
    url = make_database(f"drift_{service}")
    spec = importlib.import_module(f"{service}.bootstrap").SPEC
    metadata = importlib.import_module(f"{service}.adapters.orm").metadata
    await asyncio.to_thread(upgrade_to_head, spec.migrations_dir, url)

    def differences(connection: Connection) -> list[object]:
        return list(compare_metadata(MigrationContext.configure(connection), metadata))

    engine = create_async_engine(url)
    try:
        async with engine.connect() as connection:
            assert await connection.run_sync(differences) == []
    finally:
        await engine.dispose()
