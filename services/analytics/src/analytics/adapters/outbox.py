"""Domain events to analytics.v1 CloudEvents (the contract in ``shared.events.analytics``);
the unit of work queues them with ``uow.publish``."""

from __future__ import annotations

from collections.abc import Sequence

from analytics.domain.events import AlertChanged, AlertCleared
from shared import topics
from shared.events import analytics as contract
from shared.events.registry import build_event
from shared.messaging.envelope import CloudEvent

SOURCE = "analytics"


def event_type(event: AlertChanged) -> str:
    return contract.ALERT_CLEARED if isinstance(event, AlertCleared) else contract.ALERT_RAISED


def payload(event: AlertChanged) -> contract.AlertRaised:
    return contract.AlertRaised(
        alert_id=event.alert_id,
        seller_id=event.seller_id,
        metric=event.metric,
        scope=event.scope,
        status=event.status,
        value=event.value,
        numerator=event.numerator,
        denominator=event.denominator,
        threshold=event.threshold,
        raised_at=event.raised_at,
        cleared_at=event.cleared_at,
        message=event.message,
    )


def cloud_events(events: Sequence[AlertChanged]) -> list[CloudEvent]:
    """One CloudEvent per alert change; an alert's raise and clear are its versions 2n, 2n+1."""
    return [
        build_event(
            topic=topics.ANALYTICS,
            event_type=event_type(event),
            payload=payload(event),
            source=SOURCE,
            subject=f"{event.seller_id}:{event.metric}:{event.scope}",
            seller_id=event.seller_id,
            version=event.alert_id * 2 + isinstance(event, AlertCleared),
        )
        for event in events
    ]
