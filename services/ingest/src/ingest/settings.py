"""Ingest's settings: only what the other services do not need."""

from __future__ import annotations

from pydantic import Field

from shared.settings import ServiceSettings


class IngestSettings(ServiceSettings):
    service_name: str = "ingest"
    http_port: int = Field(default=8001, validation_alias="HTTP_PORT")
    max_batch_orders: int = Field(default=1000, validation_alias="MAX_BATCH_ORDERS")
    upload_chunk_orders: int = Field(default=200, validation_alias="UPLOAD_CHUNK_ORDERS")
    # SP-API. SPAPI_RATE_SCALE multiplies Amazon's refill rates: 1 in production,
    # larger in tests so throttling is exercised fast. Credentials are sealed with
    # SPAPI_CREDENTIALS_KEY (Fernet keys, comma-separated), else with ORDERFLOW_PII_KEY.
    # The poller calls Amazon (or whatever the connections name): it runs only when enabled,
    # and custom endpoints / LWA URLs may name only SPAPI_ALLOWED_HOSTS (no SSRF through a
    # seller's connection); Amazon's own hosts are always allowed.
    spapi_poller_enabled: bool = Field(default=False, validation_alias="SPAPI_POLLER_ENABLED")
    spapi_allowed_hosts: str = Field(
        default="127.0.0.1,localhost,::1", validation_alias="SPAPI_ALLOWED_HOSTS"
    )
    spapi_rate_scale: float = Field(default=1.0, gt=0, validation_alias="SPAPI_RATE_SCALE")
    spapi_poll_seconds: float = Field(default=60.0, gt=0, validation_alias="SPAPI_POLL_SECONDS")
    spapi_idle_seconds: float = Field(default=5.0, gt=0, validation_alias="SPAPI_IDLE_SECONDS")
    spapi_lwa_token_url: str = Field(
        default="https://api.amazon.com/auth/o2/token", validation_alias="SPAPI_LWA_TOKEN_URL"
    )
    spapi_credentials_key: str = Field(default="", validation_alias="SPAPI_CREDENTIALS_KEY")
    spapi_max_attempts: int = Field(default=6, ge=1, validation_alias="SPAPI_MAX_ATTEMPTS")
    spapi_backoff_seconds: float = Field(
        default=1.0, gt=0, validation_alias="SPAPI_BACKOFF_SECONDS"
    )
    spapi_backoff_cap_seconds: float = Field(
        default=60.0, gt=0, validation_alias="SPAPI_BACKOFF_CAP_SECONDS"
    )
    spapi_page_size: int = Field(default=100, ge=1, le=100, validation_alias="SPAPI_PAGE_SIZE")
    spapi_lease_seconds: float = Field(default=300.0, gt=0, validation_alias="SPAPI_LEASE_SECONDS")
    spapi_timeout_seconds: float = Field(
        default=30.0, gt=0, validation_alias="SPAPI_TIMEOUT_SECONDS"
    )

    # Shipment confirmations pushed to Amazon (confirmShipment): the sender job sends pending
    # ones in batches; a confirmation still refused after SPAPI_CONFIRM_MAX_ATTEMPTS transient
    # failures (429/5xx/network, each already retried SPAPI_MAX_ATTEMPTS times) is failed.
    spapi_confirmations_enabled: bool = Field(
        default=True, validation_alias="SPAPI_CONFIRMATIONS_ENABLED"
    )
    spapi_confirm_batch: int = Field(default=50, ge=1, validation_alias="SPAPI_CONFIRM_BATCH")
    spapi_confirm_max_attempts: int = Field(
        default=20, ge=1, validation_alias="SPAPI_CONFIRM_MAX_ATTEMPTS"
    )

    # Cancellations and refunds sent to Amazon as feed messages (amazon/.../feed_sender.py):
    # one feed per (seller, marketplace, feed type) once FEED_BATCH_SIZE messages wait or the
    # oldest has waited FEED_MAX_WAIT_SECONDS (docs/adr/0046-amazon-submissions.md); open
    # feeds are checked every FEED_POLL_SECONDS (at once on FEED_PROCESSING_FINISHED).
    feeds_enabled: bool = Field(default=True, validation_alias="FEEDS_ENABLED")
    feed_batch_size: int = Field(default=100, ge=1, le=10000, validation_alias="FEED_BATCH_SIZE")
    feed_max_wait_seconds: float = Field(
        default=60.0, ge=0, validation_alias="FEED_MAX_WAIT_SECONDS"
    )
    feed_poll_seconds: float = Field(default=30.0, gt=0, validation_alias="FEED_POLL_SECONDS")

    # Amazon's seller performance report (GET_V2_SELLER_PERFORMANCE_REPORT), requested for
    # each active connection every PERFORMANCE_REPORT_INTERVAL_SECONDS and followed every
    # PERFORMANCE_REPORT_POLL_SECONDS until done (amazon/.../performance_reports.py); like the
    # poller it calls Amazon, so it runs only when enabled
    # (docs/adr/0051-account-health-as-amazon-measures-it.md).
    performance_reports_enabled: bool = Field(
        default=False, validation_alias="PERFORMANCE_REPORTS_ENABLED"
    )
    performance_report_interval_seconds: float = Field(
        default=86400.0, gt=0, validation_alias="PERFORMANCE_REPORT_INTERVAL_SECONDS"
    )
    performance_report_poll_seconds: float = Field(
        default=60.0, gt=0, validation_alias="PERFORMANCE_REPORT_POLL_SECONDS"
    )
    performance_report_timeout_seconds: float = Field(
        default=7200.0, gt=0, validation_alias="PERFORMANCE_REPORT_TIMEOUT_SECONDS"
    )

    # Amazon's notifications (ORDER_CHANGE, FEED_PROCESSING_FINISHED) read from an SQS queue
    # (adapters/sqs.py). No SQS_QUEUE_URL: no consumer. SQS_ENDPOINT_URL names an
    # SQS-compatible server (ElasticMQ locally, docs/adr/0044-elasticmq-for-sqs.md); empty:
    # AWS's endpoint for SQS_REGION. Empty keys: the AWS SDK's own credential chain.
    sqs_queue_url: str = Field(default="", validation_alias="SQS_QUEUE_URL")
    # The queue's ARN, the destination ``POST /v1/connections/{id}/subscriptions`` gives
    # Amazon; empty: arn:aws:sqs:<SQS_REGION>:<account>:<name> from SQS_QUEUE_URL's path.
    sqs_queue_arn: str = Field(default="", validation_alias="SQS_QUEUE_ARN")
    sqs_endpoint_url: str = Field(default="", validation_alias="SQS_ENDPOINT_URL")
    sqs_region: str = Field(default="us-east-1", validation_alias="SQS_REGION")
    sqs_access_key_id: str = Field(default="", validation_alias="SQS_ACCESS_KEY_ID")
    sqs_secret_access_key: str = Field(default="", validation_alias="SQS_SECRET_ACCESS_KEY")
    sqs_wait_seconds: int = Field(default=20, ge=0, le=20, validation_alias="SQS_WAIT_SECONDS")
    sqs_max_messages: int = Field(default=10, ge=1, le=10, validation_alias="SQS_MAX_MESSAGES")
    sqs_visibility_timeout_seconds: int = Field(
        default=120, ge=0, le=43200, validation_alias="SQS_VISIBILITY_TIMEOUT_SECONDS"
    )

    def queue_arn(self) -> str:
        """SQS_QUEUE_ARN, else derived from SQS_QUEUE_URL (``.../<account>/<name>``, as both
        AWS and ElasticMQ spell queue URLs); empty when neither is set."""
        if self.sqs_queue_arn or not self.sqs_queue_url:
            return self.sqs_queue_arn
        account, _, name = self.sqs_queue_url.rstrip("/").rpartition("/")
        return f"arn:aws:sqs:{self.sqs_region}:{account.rpartition('/')[2]}:{name}"

    def spapi_hosts(self) -> frozenset[str]:
        return frozenset(
            h.strip().lower() for h in self.spapi_allowed_hosts.split(",") if h.strip()
        )
