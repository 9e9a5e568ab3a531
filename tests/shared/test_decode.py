"""What a consumer decodes: its own event types fully; other services' known types not at all."""

from __future__ import annotations

import orjson
import pytest

from shared.errors import PoisonMessage
from shared.events.fulfillment import SHIPMENT_CONFIRMED
from shared.events.orders import ORDER_CREATED, ORDER_UPDATED, OrderSnapshot
from shared.messaging.decoding import Message, decode

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


SNAPSHOT = {
    "amazon_order_id": "111-0000001-0000001",
    "seller_id": "A2SELLER",
    "version": 3,
    "purchase_date": "2026-11-26T10:00:00Z",
    "last_update_date": "2026-11-26T11:00:00Z",
    "order_status": "Unshipped",
    "order_total": {"amount": "19.99", "currency_code": "USD"},
    "items": [{"order_item_id": "1", "asin": "B000000001", "quantity_ordered": 2}],
}


def test_a_handled_type_comes_back_with_its_typed_payload_read_with_the_envelope() -> None:
    event, payload = decode(_message(ORDER_UPDATED, SNAPSHOT), {ORDER_CREATED, ORDER_UPDATED})
    assert payload == OrderSnapshot.model_validate(SNAPSHOT)
    assert event.data is payload  # one pass: the envelope's data is the payload
    assert (event.type, event.aggregateversion, event.sellerid) == (ORDER_UPDATED, 1, "A2SELLER")
    assert str(event.id) == "7f1c8a52-2f39-4c1e-9a0e-1f3c0e6b2a11"
    _, again = decode(_message(ORDER_UPDATED, SNAPSHOT), {ORDER_UPDATED})
    assert again == payload  # a service that handles one type reads it the same way


def test_a_handled_type_of_a_schema_version_this_build_does_not_know_is_poison() -> None:
    message = _message(ORDER_CREATED, SNAPSHOT)
    newer = Message(
        message.topic,
        0,
        9,
        message.key,
        message.value.replace(b"order.created:1", b"order.created:2"),
    )
    with pytest.raises(PoisonMessage, match="UnknownEventType"):
        decode(newer, {ORDER_CREATED})


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
