"""Session-wide fixtures: real Kafka and PostgreSQL for integration tests (no Docker).

- ``KAFKA_BOOTSTRAP_SERVERS`` set: use that Kafka; else start/reuse one in ``.run/test/kafka``
  on 127.0.0.1:19092 (controller 19093).
- ``POSTGRES_URL`` set (server-level, e.g. ``postgresql://user@host:5432/postgres``): use it;
  else start/reuse a PostgreSQL in ``.run/test/pg`` on 127.0.0.1:15432 (fsync off).
- ``SQS_ENDPOINT_URL`` set: use that SQS-compatible server; else start/reuse an ElasticMQ in
  ``.run/test/sqs`` on 127.0.0.1:19324 (``ORDERFLOW_TEST_SQS_PORT``), messages in memory.
- ``ORDERFLOW_KEEP_TEST_STACK`` set: leave the test servers running after the session.

Service-specific fixtures belong in the services' own test folders.
"""

from __future__ import annotations

import asyncio
import os
import secrets
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from aiokafka.admin import AIOKafkaAdminClient

from devstack import config
from devstack.elasticmq import ElasticMQServer
from devstack.kafka import KafkaServer
from devstack.postgres import PostgresServer
from devstack.testing import DatabaseFactory, shared_server

TEST_RUN_DIR = Path(__file__).resolve().parents[1] / ".run" / "test"


@pytest.fixture(scope="session")
def kafka_bootstrap() -> Iterator[str]:
    """``host:port`` of a running Kafka broker."""
    external = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    if external:
        yield external
        return
    run_dir = TEST_RUN_DIR / "kafka"
    server = KafkaServer(
        run_dir, config.TEST_KAFKA_PORT, config.TEST_KAFKA_CONTROLLER_PORT, fresh=True
    )
    with shared_server(server, run_dir):
        yield server.bootstrap


@pytest.fixture(scope="session")
def sqs_endpoint() -> Iterator[str]:
    """``http://host:port`` of a running SQS-compatible server (ElasticMQ). Tests create their
    own uniquely named queues on it."""
    external = os.environ.get("SQS_ENDPOINT_URL")
    if external:
        yield external.rstrip("/")
        return
    run_dir = TEST_RUN_DIR / "sqs"
    server = ElasticMQServer(run_dir, config.TEST_SQS_PORT, fresh=True)
    with shared_server(server, run_dir):
        yield server.endpoint


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """Server-level libpq URL (``postgresql://user@host:port/postgres``) of a running PostgreSQL."""
    external = os.environ.get("POSTGRES_URL")
    if external:
        yield external
        return
    run_dir = TEST_RUN_DIR / "pg"
    server = PostgresServer(run_dir, config.TEST_POSTGRES_PORT, fsync=False)
    with shared_server(server, run_dir):
        yield server.server_url


@pytest.fixture(scope="session")
def make_database(postgres_server: str) -> Iterator[Callable[[str], str]]:
    """``make_database(prefix) -> "postgresql+asyncpg://..."``: a fresh, uniquely named database.

    Databases are dropped at the end of the session.
    """
    factory = DatabaseFactory(postgres_server)
    yield factory
    factory.drop_all()


@pytest.fixture(scope="session")
def database_url_factory(make_database: Callable[[str], str]) -> Callable[[str], str]:
    """Alias of :func:`make_database`."""
    return make_database


@pytest.fixture(scope="session")
def topic_prefix(kafka_bootstrap: str) -> Iterator[str]:
    """A unique Kafka topic prefix per test session, e.g. ``t1a2b3c4d.``; its topics are
    deleted at the end of the session (a broker shared by many runs would pile them up)."""
    prefix = f"t{secrets.token_hex(4)}."
    yield prefix
    asyncio.run(_delete_topics(kafka_bootstrap, prefix))


async def _delete_topics(bootstrap: str, prefix: str) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, client_id="orderflow-tests")
    await admin.start()
    try:
        mine = [t for t in await admin.list_topics() if t.startswith(prefix)]
        if mine:
            await admin.delete_topics(mine)
    finally:
        await admin.close()
