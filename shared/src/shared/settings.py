"""Base settings every service extends with only its own fields.

Settings are read when a process builds its composition root, never at import time.
"""

from __future__ import annotations

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class ServiceSettings(BaseSettings):
    model_config = SettingsConfigDict(env_file=None, extra="ignore", populate_by_name=True)

    service_name: str = "orderflow"
    database_url: str = Field(
        default="postgresql+asyncpg://orderflow@127.0.0.1:5432/orderflow",
        validation_alias="DATABASE_URL",
    )
    kafka_bootstrap_servers: str = Field(
        default="127.0.0.1:9092", validation_alias="KAFKA_BOOTSTRAP_SERVERS"
    )
    kafka_topic_prefix: str = Field(default="", validation_alias="KAFKA_TOPIC_PREFIX")
    kafka_partitions: int = Field(default=12, validation_alias="KAFKA_PARTITIONS")
    kafka_replication_factor: int = Field(default=1, validation_alias="KAFKA_REPLICATION_FACTOR")
    api_keys: str = Field(default="", validation_alias="ORDERFLOW_API_KEYS")
    pii_key: str = Field(default="", validation_alias="ORDERFLOW_PII_KEY")
    service_urls: str = Field(default="", validation_alias="ORDERFLOW_SERVICE_URLS")
    http_host: str = Field(default="127.0.0.1", validation_alias="HTTP_HOST")
    http_port: int = Field(default=8000, validation_alias="HTTP_PORT")
    # Where a ``worker`` or ``relay`` process (the production layout: no API in it) answers
    # /healthz, /readyz and /metrics; unset, it serves nothing. The api and all roles serve
    # them on HTTP_PORT with the API.
    ops_port: int | None = Field(default=None, ge=1, le=65535, validation_alias="OPS_PORT")
    log_level: str = Field(default="INFO", validation_alias="LOG_LEVEL")
    # The one size cap of every request body in every service, JSON and files alike: 413
    # above it, however the body is framed (docs/adr/0032). Not overridden per service.
    max_body_bytes: int = Field(default=5 * 1024 * 1024, ge=1024, validation_alias="MAX_BODY_BYTES")
    consumer_max_attempts: int = Field(default=3, validation_alias="CONSUMER_MAX_ATTEMPTS")
    consumer_batch_size: int = Field(default=500, validation_alias="CONSUMER_BATCH_SIZE")
    # Large enough that the relay keeps up with its own API in the one-process layout, where
    # the API's requests hold the event loop between a round's steps; a claim takes only what
    # is waiting, so small loads still go out in small batches. See
    # docs/adr/0011-relay-batch-size.md.
    relay_batch_size: int = Field(default=2000, validation_alias="RELAY_BATCH_SIZE")
    relay_idle_seconds: float = Field(default=0.05, validation_alias="RELAY_IDLE_SECONDS")
    # How long a relay round waits for Kafka's acks before it gives up, discards its producer
    # and tries again with a new one (a producer whose sender died never answers).
    relay_ack_timeout_seconds: float = Field(
        default=60.0, gt=0, validation_alias="RELAY_ACK_TIMEOUT_SECONDS"
    )
    # A relay or worker that has made no progress for this long while work waits is stalled:
    # /readyz answers 503 and orderflow_stalled is 1 (shared.progress).
    stall_seconds: float = Field(default=120.0, gt=0, validation_alias="STALL_SECONDS")
    rate_limit_per_second: float = Field(default=1000.0, validation_alias="RATE_LIMIT_PER_SECOND")
    rate_limit_burst: float = Field(default=2000.0, validation_alias="RATE_LIMIT_BURST")
    outbox_retention_days: int = Field(default=7, validation_alias="OUTBOX_RETENTION_DAYS")
    inbox_retention_days: int = Field(default=14, validation_alias="INBOX_RETENTION_DAYS")
    # How long an Idempotency-Key and its first response are kept, and how long one attempt
    # holds its key before a retry may take it over: see docs/adr/0040-idempotency-keys.md.
    idempotency_key_hours: float = Field(
        default=24.0, gt=0, validation_alias="IDEMPOTENCY_KEY_HOURS"
    )
    idempotency_lease_seconds: float = Field(
        default=60.0, gt=0, validation_alias="IDEMPOTENCY_LEASE_SECONDS"
    )
    db_pool_size: int = Field(default=10, validation_alias="DB_POOL_SIZE")
    db_pool_pre_ping: bool = Field(default=False, validation_alias="DB_POOL_PRE_PING")

    @field_validator("kafka_topic_prefix")
    @classmethod
    def _prefix_is_plain(cls, value: str) -> str:
        if value and not all(c.isalnum() or c in "._-" for c in value):
            raise ValueError("KAFKA_TOPIC_PREFIX may hold only letters, digits, '.', '_' and '-'")
        return value

    def topic(self, name: str) -> str:
        """The physical topic for a logical one (``orders.v1``), with the run's prefix."""
        return f"{self.kafka_topic_prefix}{name}"

    def urls_of_services(self) -> dict[str, str]:
        pairs = (item.split("=", 1) for item in self.service_urls.split(",") if "=" in item)
        return {name.strip(): url.strip().rstrip("/") for name, url in pairs}
