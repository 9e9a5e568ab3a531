"""Intake's domain events as the CloudEvents the outbox stores (``shared.events`` contracts)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import NamedTuple

import pydantic_core
from uuid_utils.compat import uuid7

from ingest.intake.domain.events import AdRowReported, OrderAccepted
from shared import topics
from shared.events.ads import AD_PERFORMANCE_REPORTED
from shared.events.orders import ORDER_CREATED, ORDER_UPDATED
from shared.events.registry import build_envelope, build_event
from shared.messaging.envelope import CloudEvent

SOURCE = "ingest"


class OrderEvent(NamedTuple):
    event: CloudEvent
    payload: bytes  # the event's bytes, as the outbox stores them
    snapshot: bytes  # its data's: the JSON the orders row keeps


class OrderEvents:
    """The ``order.created``/``order.updated`` events of one batch, and their bytes.

    What every event of the batch shares (the seller, the correlation id, the request's actor)
    is validated once, with the batch's first event of each type; the others are copies of
    it. Each event's own attributes
    and snapshot were validated on the way in (the Amazon shape, ``OrderAccepted``), so they
    are not validated again, and the snapshot is dumped once: its JSON goes into the envelope's
    bytes as it is. The bytes are the same as ``build_event(...).to_bytes()``'s
    (tests/ingest/test_intake_bytes_unit.py; docs/adr/0058-ingest-validates-and-serialises-once.md).
    """

    def __init__(self, *, seller_id: str, correlation_id: str | None) -> None:
        self._seller_id = seller_id
        self._correlation_id = correlation_id
        self._envelopes: dict[bool, CloudEvent] = {}

    def event(self, accepted: OrderAccepted) -> OrderEvent:
        """The event announcing ``accepted``, with its bytes and its snapshot's."""
        envelope = self._envelopes.get(accepted.created)
        if envelope is None:  # the batch's first of its type: validated, then copied
            event = self._envelopes[accepted.created] = build_envelope(
                topic=topics.ORDERS,
                event_type=ORDER_CREATED if accepted.created else ORDER_UPDATED,
                data=accepted.snapshot,
                source=SOURCE,
                subject=accepted.amazon_order_id,
                seller_id=self._seller_id,
                version=accepted.version,
                correlation_id=self._correlation_id,
            )
        else:
            event = envelope.model_copy(
                update={
                    "id": uuid7(),
                    "time": datetime.now(UTC),
                    "subject": accepted.amazon_order_id,
                    "aggregateversion": accepted.version,
                    "data": accepted.snapshot,
                }
            )
        snapshot = pydantic_core.to_json(accepted.snapshot)
        return OrderEvent(event, event.to_bytes_with(snapshot), snapshot)


def ad_event(event: AdRowReported) -> CloudEvent:
    return build_event(
        topic=topics.ADS,
        event_type=AD_PERFORMANCE_REPORTED,
        payload=event.row,
        source=SOURCE,
        subject=event.subject,
        seller_id=event.row.seller_id,
        version=event.version,
        correlation_id=event.correlation_id,
    )
