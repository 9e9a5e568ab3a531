"""Development defaults for the local stack (cited by the README).

Everything here is for local development and tests only; never use these values in production.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

KAFKA_VERSION = "3.9.1"
ELASTICMQ_VERSION = "1.7.1"
DEFAULT_KAFKA_PORT = 9092
DEFAULT_KAFKA_CONTROLLER_PORT = 9093
DEFAULT_POSTGRES_PORT = 5432
# ElasticMQ's own default port, so AWS examples written for it work unchanged.
DEFAULT_SQS_PORT = 9324
# The queue Amazon's notifications arrive on locally (created when ElasticMQ starts), and the
# account and region in its queue URLs and ARNs (ElasticMQ's defaults: an obviously fake account).
SQS_QUEUE = "orderflow-notifications"
SQS_REGION = "us-east-1"
SQS_ACCOUNT = "000000000000"
POSTGRES_USER = "orderflow"


def _port(env: str, default: int) -> int:
    """A port from the environment variable ``env`` (read once, at import), else ``default``."""
    return int(os.environ.get(env) or default)


# The servers the test suite starts for itself (tests/conftest.py) unless it is pointed at
# running ones (KAFKA_BOOTSTRAP_SERVERS, POSTGRES_URL).
TEST_KAFKA_PORT = _port("ORDERFLOW_TEST_KAFKA_PORT", 19092)
TEST_KAFKA_CONTROLLER_PORT = _port("ORDERFLOW_TEST_KAFKA_CONTROLLER_PORT", TEST_KAFKA_PORT + 1)
TEST_POSTGRES_PORT = _port("ORDERFLOW_TEST_POSTGRES_PORT", 15432)
TEST_SQS_PORT = _port("ORDERFLOW_TEST_SQS_PORT", 19324)

READY_TIMEOUT_S = 90.0

# API keys: "<key>=<role>[:<seller id>]", comma separated.
DEFAULT_API_KEYS = (
    "dev-system-key=system,dev-ops-key=ops,"
    "dev-seller-key=seller:A2SELLER1EXAMPLE,dev-seller2-key=seller:A3SELLER2EXAMPLE"
)

# Fernet key (32 random bytes, urlsafe base64) used to encrypt PII. Development only:
# it is public in this repository, so it protects nothing.
DEFAULT_PII_KEY = "n_BqP4SNyVeTHYn4Gjx04lJgXmwo1DbEEpWiUaOM2Qs="


@dataclass(frozen=True)
class ServiceSpec:
    """A service started by ``devstack up``: ``python -m <name>`` listening on ``port``."""

    name: str
    port: int

    @property
    def database(self) -> str:
        return f"orderflow_{self.name}"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


# `make up`'s service ports: INGEST_PORT, FULFILLMENT_PORT, DEFECTS_PORT, ANALYTICS_PORT.
SERVICES: tuple[ServiceSpec, ...] = (
    ServiceSpec("ingest", _port("INGEST_PORT", 8001)),
    ServiceSpec("fulfillment", _port("FULFILLMENT_PORT", 8002)),
    ServiceSpec("defects", _port("DEFECTS_PORT", 8003)),
    ServiceSpec("analytics", _port("ANALYTICS_PORT", 8004)),
)

DATABASES: tuple[str, ...] = tuple(s.database for s in SERVICES)


def kafka_port() -> int:
    return int(os.environ.get("KAFKA_PORT", DEFAULT_KAFKA_PORT))


def kafka_brokers() -> int:
    """Brokers ``make up`` starts (KAFKA_BROKERS): 1, one combined KRaft node; 3, a cluster of
    three brokers and one controller (docs/adr/0047-local-three-broker-cluster.md)."""
    brokers = int(os.environ.get("KAFKA_BROKERS") or 1)
    if brokers not in (1, 3):
        raise ValueError(f"KAFKA_BROKERS must be 1 or 3, not {brokers}")
    return brokers


def kafka_controller_port() -> int:
    default = kafka_port() + 1
    return int(os.environ.get("KAFKA_CONTROLLER_PORT", default))


def postgres_port() -> int:
    return int(os.environ.get("POSTGRES_PORT", DEFAULT_POSTGRES_PORT))


def sqs_port() -> int:
    return int(os.environ.get("SQS_PORT", DEFAULT_SQS_PORT))


def sqs_enabled() -> bool:
    """Whether ``make up`` starts ElasticMQ for Amazon's notifications (ORDERFLOW_SQS=0: no)."""
    return os.environ.get("ORDERFLOW_SQS", "1").strip().lower() not in {"0", "false", "no", "off"}


def api_keys() -> str:
    return os.environ.get("ORDERFLOW_API_KEYS", DEFAULT_API_KEYS)


def pii_key() -> str:
    return os.environ.get("ORDERFLOW_PII_KEY", DEFAULT_PII_KEY)


def service_urls() -> str:
    return ",".join(f"{s.name}={s.url}" for s in SERVICES)
