"""Prometheus metrics shared by every service (exposed at ``/metrics``)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

HTTP_REQUESTS = Counter(
    "orderflow_http_requests_total", "HTTP requests", ["service", "method", "route", "status"]
)
HTTP_LATENCY = Histogram(
    "orderflow_http_request_seconds", "HTTP request latency", ["service", "method", "route"]
)
RELAY_PUBLISHED = Counter(
    "orderflow_outbox_published_total", "Outbox rows published to Kafka", ["service"]
)
RELAY_ERRORS = Counter("orderflow_outbox_relay_errors_total", "Relay failures", ["service"])
OUTBOX_BACKLOG = Gauge("orderflow_outbox_backlog", "Outbox rows not yet sent", ["service"])
CONSUMED = Counter(
    "orderflow_events_consumed_total", "Events handled", ["service", "topic", "outcome"]
)
DEAD_LETTERED = Counter(
    "orderflow_dead_letters_total", "Messages sent to a dead-letter topic", ["service", "topic"]
)
HANDLE_LATENCY = Histogram(
    "orderflow_event_handle_seconds", "Time to apply a batch of events", ["service", "topic"]
)

# Stall detection (shared.progress, docs/operations/stall-detection.md).
OUTBOX_OLDEST_AGE = Gauge(
    "orderflow_outbox_oldest_unsent_age_seconds",
    "Age of the oldest outbox row the relay last found unsent (0 when its last claim was empty)",
    ["service"],
)
RELAY_LAST_SUCCESS = Gauge(
    "orderflow_outbox_last_success_timestamp_seconds",
    "Unix time of the relay's last successful round (rows published and marked, or none waiting)",
    ["service"],
)
CONSUMER_LAG = Gauge(
    "orderflow_consumer_lag",
    "Records on the worker's assigned partitions not yet applied (end offset - position)",
    ["service", "topic"],
)
CONSUMER_LAST_APPLIED = Gauge(
    "orderflow_consumer_last_applied_timestamp_seconds",
    "Unix time the worker last applied and committed a fetch",
    ["service"],
)
STALLED = Gauge(
    "orderflow_stalled",
    "1 while a relay or worker has made no progress for STALL_SECONDS while work waits",
    ["service", "role"],
)
CLIENTS_REPLACED = Counter(
    "orderflow_kafka_clients_replaced_total",
    "Kafka clients closed and replaced after a failure they cannot recover from",
    ["service", "client"],
)
BACKGROUND_JOB_RESTARTS = Counter(
    "orderflow_background_job_restarts_total",
    "Background jobs (alerts, purges, pollers...) started again after they failed",
    ["service", "job"],
)
