"""Event type -> payload model, for every topic; the one place a consumer looks types up."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from shared.events import ads, analytics, defects, fulfillment, orders
from shared.messaging.envelope import CloudEvent, schema_uri

PAYLOADS: dict[str, type[BaseModel]] = {
    **orders.PAYLOADS,
    **fulfillment.PAYLOADS,
    **defects.PAYLOADS,
    **ads.PAYLOADS,
    **analytics.PAYLOADS,
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
    schema_version: int = 1,
    correlation_id: str | None = None,
    causation_id: str | None = None,
) -> CloudEvent:
    if event_type not in PAYLOADS:
        raise UnknownEventType(event_type)
    return CloudEvent(
        source=source,
        type=event_type,
        subject=subject,
        dataschema=schema_uri(topic, event_type, schema_version),
        sellerid=seller_id,
        correlationid=correlation_id,
        causationid=causation_id,
        aggregateversion=version,
        data=payload.model_dump(mode="json"),
    )


def parse_payload(event: CloudEvent) -> Any:
    """The typed payload of an event; raises ``UnknownEventType`` or ``ValidationError``."""
    model = PAYLOADS.get(event.type)
    if model is None:
        raise UnknownEventType(event.type)
    if not event.dataschema.endswith(":1"):
        raise UnknownEventType(f"{event.type} schema {event.dataschema}")
    return model.model_validate(event.data)
