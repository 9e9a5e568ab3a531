"""Each service's migrations build exactly the schema its models describe, and the outbox's
notify trigger, which the models cannot describe.

The plumbing tables (outbox, inbox, dead letters) are defined once in ``shared.messaging.tables``
but created by the frozen steps of ``shared.messaging.migrations`` that each service's history
calls; a column or index added to one place and not the other would only show in production.
Alembic's autogenerate compares the migrated database with the models and must find nothing to
do.
"""

from __future__ import annotations

import asyncio
import importlib
from collections.abc import Callable

import asyncpg
import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from shared.db.migrations import upgrade_to_head
from shared.messaging.tables import CHANNEL

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


@pytest.mark.parametrize("service", ["ingest", "fulfillment", "defects", "analytics"])
async def test_a_transaction_writing_to_the_outbox_notifies_the_relay_once_on_commit(
    service: str, make_database: Callable[[str], str]
) -> None:
    url = make_database(f"notify_{service}")
    spec = importlib.import_module(f"{service}.bootstrap").SPEC
    await asyncio.to_thread(upgrade_to_head, spec.migrations_dir, url)
    dsn = url.replace("postgresql+asyncpg://", "postgresql://")
    heard: asyncio.Queue[str] = asyncio.Queue()
    listener = await asyncpg.connect(dsn)
    writer = await asyncpg.connect(dsn)
    try:
        await listener.add_listener(CHANNEL, lambda *args: heard.put_nowait(args[2]))
        insert = (
            "INSERT INTO outbox (event_id, topic, message_key, event_type, payload) "
            "VALUES (gen_random_uuid(), 'orders.v1', $1, 'order.created', '\\x7b7d')"
        )
        async with writer.transaction():
            await writer.execute(insert, "111-0000000-0000001")
            await writer.execute(insert, "111-0000000-0000002")
            await asyncio.sleep(0.2)
            assert heard.empty()  # nothing before the commit
        assert await asyncio.wait_for(heard.get(), timeout=5) == CHANNEL
        await asyncio.sleep(0.2)
        assert heard.empty()  # one notification for the transaction, not one per statement
    finally:
        await writer.close()
        await listener.close()
