"""What a consumer decodes: its own event types fully; other services' known types not at all."""

from __future__ import annotations

import orjson
import pytest

from shared.errors import PoisonMessage
from shared.events.fulfillment import SHIPMENT_CONFIRMED
from shared.events.orders import ORDER_CREATED
from shared.kafka.consumer import Message, decode

pytestmark = pytest.mark.unit


def _message(event_type: str, data: dict[str, object]) -> Message:
    envelope = {
        "specversion": "1.0",
        "id": "7f1c8a52-2f39-4c1e-9a0e-1f3c0e6b2a11",
        "source": "fulfillment",
        "type": event_type,
        "time": "2026-11-26T12:00:00Z",
        "subject": "111-0000001-0000001",
        "datacontenttype": "application/json",
        "dataschema": f"urn:orderflow:fulfillment.v1:{event_type}:1",
        "sellerid": "A2SELLER",
        "aggregateversion": 1,
        "data": data,
    }
    return Message("fulfillment.v1", 0, 7, "111-0000001-0000001", orjson.dumps(envelope))


def test_a_known_type_this_service_does_not_handle_is_not_parsed_or_poison() -> None:
    broken = _message(SHIPMENT_CONFIRMED, {"not": "a shipment"})
    event, payload = decode(broken, {ORDER_CREATED})
    assert (event.type, payload) == (SHIPMENT_CONFIRMED, None)


def test_a_handled_type_with_a_broken_payload_is_poison() -> None:
    broken = _message(SHIPMENT_CONFIRMED, {"not": "a shipment"})
    with pytest.raises(PoisonMessage, match="ValidationError"):
        decode(broken, {SHIPMENT_CONFIRMED})
    with pytest.raises(PoisonMessage):
        decode(broken)  # no service named: every known type is parsed


def test_an_unknown_type_is_poison_whoever_reads_it() -> None:
    with pytest.raises(PoisonMessage, match="UnknownEventType"):
        decode(_message("shipment.exploded", {}), {ORDER_CREATED})


def test_a_broken_envelope_is_poison() -> None:
    with pytest.raises(PoisonMessage):
        decode(Message("fulfillment.v1", 0, 8, None, b"{not json"), {ORDER_CREATED})
