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
