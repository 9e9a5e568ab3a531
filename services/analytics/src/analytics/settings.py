"""Analytics' settings: only what the other services do not need (it never holds the PII key)."""

from __future__ import annotations

from decimal import Decimal

from pydantic import Field

from shared.settings import ServiceSettings


class AnalyticsSettings(ServiceSettings):
    service_name: str = "analytics"
    http_port: int = Field(default=8004, validation_alias="HTTP_PORT")
    pii_key: str = Field(default="", exclude=True)  # analytics never decrypts buyer PII
    service_api_key: str = Field(default="", validation_alias="ANALYTICS_SERVICE_API_KEY")
    alert_interval_seconds: float = Field(default=5.0, validation_alias="ALERT_INTERVAL_SECONDS")
    # A seller with new events is evaluated at most this often (its 120 days are recomputed).
    alert_seller_seconds: float = Field(default=60.0, validation_alias="ALERT_SELLER_SECONDS")
    # The event log (order_events: the timeline a trace shows) is kept this long, then trimmed
    # in batches; longer than account health's longest window (120 days) and the claim
    # deadlines. The read models themselves are kept. See docs/adr/0010-event-log-retention.md.
    event_log_retention_days: int = Field(
        default=180, ge=1, le=3650, validation_alias="EVENT_LOG_RETENTION_DAYS"
    )
    event_log_trim_interval_seconds: float = Field(
        default=3600.0, gt=0, validation_alias="EVENT_LOG_TRIM_INTERVAL_SECONDS"
    )
    event_log_trim_batch: int = Field(
        default=5000, ge=1, le=100_000, validation_alias="EVENT_LOG_TRIM_BATCH"
    )
    ad_order_ratio_threshold: Decimal = Field(
        default=Decimal("0.6"), validation_alias="AD_ORDER_RATIO_THRESHOLD"
    )
    consumer_lag_threshold: int = Field(default=100, validation_alias="CONSUMER_LAG_THRESHOLD")
    peer_timeout_seconds: float = Field(default=2.0, validation_alias="PEER_TIMEOUT_SECONDS")

    def peer_api_key(self) -> str:
        """The key analytics calls the other services with: ANALYTICS_SERVICE_API_KEY, else the
        first ops key of ORDERFLOW_API_KEYS (the local stack gives every service the same list)."""
        if self.service_api_key:
            return self.service_api_key
        for entry in self.api_keys.split(","):
            key, _, role = entry.strip().partition("=")
            if role.strip() == "ops" and key:
                return key
        return ""
