"""Event type -> payload model, for every topic; the one place a consumer looks types up."""

from __future__ import annotations

from types import ModuleType
from typing import Any

from pydantic import BaseModel

from shared import audit, topics
from shared.events import ads, analytics, defects, fulfillment, orders
from shared.messaging.envelope import CloudEvent, schema_uri

# Topic -> the module holding its events: its docstring documents the topic, its ``PAYLOADS``
# maps each event type the topic carries to its payload model.
MODULES: dict[str, ModuleType] = {
    topics.ORDERS: orders,
    topics.FULFILLMENT: fulfillment,
    topics.DEFECTS: defects,
    topics.ADS: ads,
    topics.ANALYTICS: analytics,
}
BY_TOPIC: dict[str, dict[str, type[BaseModel]]] = {
    topic: module.PAYLOADS for topic, module in MODULES.items()
}
# The one payload schema version this build reads and writes (the end of ``dataschema``).
SCHEMA_VERSION = 1
PAYLOADS: dict[str, type[BaseModel]] = {
    event_type: model for payloads in BY_TOPIC.values() for event_type, model in payloads.items()
}


class UnknownEventType(Exception):
    """The event's type (or schema version) is not one this build understands."""


def build_event(
    *,
    topic: str,
    event_type: str,
    payload: BaseModel,
    source: str,
    subject: str,
    seller_id: str,
    version: int,
    schema_version: int = SCHEMA_VERSION,
    correlation_id: str | None = None,
    causation_id: str | None = None,
) -> CloudEvent:
    """An event; made while an API request changes something, it names the request's actor."""
    return build_envelope(
        topic=topic,
        event_type=event_type,
        data=payload.model_dump(mode="json"),
        source=source,
        subject=subject,
        seller_id=seller_id,
        version=version,
        schema_version=schema_version,
        correlation_id=correlation_id,
        causation_id=causation_id,
    )


def build_envelope(
    *,
    topic: str,
    event_type: str,
    data: dict[str, Any],
    source: str,
    subject: str,
    seller_id: str,
    version: int,
    schema_version: int = SCHEMA_VERSION,
    correlation_id: str | None = None,
    causation_id: str | None = None,
) -> CloudEvent:
    """``build_event`` around ``data`` as it is: a payload the caller made from values it has
    validated (ingest's order snapshots: docs/adr/0058-ingest-validates-and-serialises-once.md)."""
    if event_type not in PAYLOADS:
        raise UnknownEventType(event_type)
    actor = audit.actor()
    return CloudEvent(
        source=source,
        type=event_type,
        subject=subject,
        dataschema=schema_uri(topic, event_type, schema_version),
        sellerid=seller_id,
        correlationid=correlation_id,
        causationid=causation_id,
        aggregateversion=version,
        actorkey=actor.key_name if actor else None,
        actorrole=actor.role if actor else None,
        actorsellerid=actor.seller_id if actor else None,
        data=data,
    )


def parse_payload(event: CloudEvent) -> Any:
    """The typed payload of an event; raises ``UnknownEventType`` or ``ValidationError``."""
    model = PAYLOADS.get(event.type)
    if model is None:
        raise UnknownEventType(event.type)
    if not event.dataschema.endswith(f":{SCHEMA_VERSION}"):
        raise UnknownEventType(f"{event.type} schema {event.dataschema}")
    return model.model_validate(event.data)
