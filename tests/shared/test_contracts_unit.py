"""Unit tests of the shared contracts: envelope, registry, PII sealing, auth keys, cursors."""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet
from pydantic import ValidationError

from shared.api.auth import InvalidKeyConfig, Principal, parse_api_keys
from shared.api.pagination import After, encode_cursor, read_cursor
from shared.api.problems import Problem
from shared.events.common import EncryptedPII
from shared.events.registry import PAYLOADS, UnknownEventType, parse_payload
from shared.messaging.envelope import CloudEvent
from shared.pii import PIICipher, PIIKeyMissing, is_sealed_bytes

from .conftest import order_event

pytestmark = pytest.mark.unit


def test_envelope_round_trips_and_carries_the_extensions() -> None:
    event = order_event("111-2222222-3333333", version=3)
    again = CloudEvent.from_bytes(event.to_bytes())
    assert again == event
    assert (again.specversion, again.subject, again.aggregateversion) == (
        "1.0",
        "111-2222222-3333333",
        3,
    )
    assert again.dataschema == "urn:orderflow:orders.v1:order.updated:1"
    assert parse_payload(again).version == 3


def test_event_ids_are_uuid7_in_the_order_the_events_were_made() -> None:
    events = [order_event(f"111-2222222-{i:07d}") for i in range(50)]
    ids = [e.id for e in events]
    assert {i.version for i in ids} == {7}
    assert len(set(ids)) == 50
    stamps = [i.int >> 80 for i in ids]  # the first 48 bits: Unix time in milliseconds
    assert stamps == sorted(stamps)
    made_ms = int(events[0].time.timestamp() * 1000)
    assert abs(stamps[0] - made_ms) < 1000


def test_unknown_type_or_schema_version_is_refused() -> None:
    event = order_event("111-2222222-3333333")
    with pytest.raises(UnknownEventType):
        parse_payload(event.model_copy(update={"type": "order.exploded"}))
    with pytest.raises(UnknownEventType):
        parse_payload(event.model_copy(update={"dataschema": "urn:orderflow:orders.v1:x:2"}))
    broken = event.model_copy(update={"data": {"amazon_order_id": "x"}})
    with pytest.raises(ValidationError):
        parse_payload(broken)


def test_every_topic_has_its_events_registered() -> None:
    for event_type in (
        "order.created",
        "shipment.confirmed",
        "claim.filed",
        "chargeback.decided",
        "feedback.removed",
        "ad_performance.reported",
    ):
        assert event_type in PAYLOADS


def test_pii_is_sealed_and_opens_only_with_the_key_including_after_rotation() -> None:
    old, new = PIICipher.generate_key(), PIICipher.generate_key()
    sealed = PIICipher(old).seal({"buyer_email": "jane@example.com"})
    assert "jane" not in sealed.ciphertext
    rotated = PIICipher(f"{new},{old}")
    assert rotated.open(sealed) == {"buyer_email": "jane@example.com"}
    with pytest.raises(PIIKeyMissing):
        PIICipher(new).open(sealed)
    with pytest.raises(PIIKeyMissing):
        PIICipher("")


def test_pii_sealed_with_fernet_before_still_opens() -> None:
    """Values sealed before sealing moved to AES-GCM are in the stores and on Kafka."""
    key = PIICipher.generate_key()
    token = Fernet(key.encode()).encrypt(b'{"buyer_email": "jane@example.com"}').decode()
    old = EncryptedPII(key_id=PIICipher(key).key_id, ciphertext=token)
    assert PIICipher(key).open(old) == {"buyer_email": "jane@example.com"}
    assert PIICipher(f"{PIICipher.generate_key()},{key}").open(old)["buyer_email"]


def test_pii_sealing_is_authenticated_and_opens_by_key_id_or_any_held_key() -> None:
    key = PIICipher.generate_key()
    cipher = PIICipher(key)
    sealed = cipher.seal({"buyer_email": "jane@example.com"})
    assert sealed.ciphertext.startswith("v2.")
    assert "jane" not in sealed.ciphertext
    assert sealed.ciphertext != cipher.seal({"buyer_email": "jane@example.com"}).ciphertext
    body = sealed.ciphertext[3:]
    flipped = body[:20] + ("A" if body[20] != "A" else "B") + body[21:]
    for broken in ("v2." + flipped, "v2.%%%", "v2."):  # tampered, not base64, empty
        with pytest.raises(PIIKeyMissing):
            cipher.open(sealed.model_copy(update={"ciphertext": broken}))
    # Stored without its key id (quarantined input), it opens with whichever key holds it.
    unnamed = sealed.model_copy(update={"key_id": ""})
    assert PIICipher(f"{PIICipher.generate_key()},{key}").open(unnamed)["buyer_email"]
    with pytest.raises(PIIKeyMissing):
        PIICipher(PIICipher.generate_key()).open(sealed)


def test_api_keys_parse_roles_and_reject_malformed_entries() -> None:
    keys = parse_api_keys("k1=system, k2=ops,k3=seller:A2SELLER1")
    assert sorted(p.role for p in keys.values()) == ["ops", "seller", "system"]
    assert Principal("seller", "A2SELLER1", "k3…") in keys.values()
    for bad in ("k1", "k1=admin", "k1=seller:", "=ops"):
        with pytest.raises(InvalidKeyConfig):
            parse_api_keys(bad)


def test_cursor_round_trip_and_garbage_is_a_400() -> None:
    assert read_cursor(encode_cursor({"after": 42}), After) == After(after=42)
    assert read_cursor(None, After) is None
    forged = [
        "!!!",
        "bm90IGpzb24",
        encode_cursor([1, 2]),  # type: ignore[arg-type]
        encode_cursor({"after": "42"}),
        encode_cursor({"after": -1}),
        encode_cursor({"after": 2**63}),
        encode_cursor({"after": 1, "more": 2}),
        encode_cursor({"before": 1}),
    ]
    for garbage in forged:
        with pytest.raises(Problem) as raised:
            read_cursor(garbage, After)
        assert raised.value.status == 400 and raised.value.detail


def test_whole_inputs_are_sealed_as_bytes_and_open_after_rotation() -> None:
    key = PIICipher.generate_key()
    cipher = PIICipher(key)
    data = b"buyer-email\njane@example.com\n"
    sealed = cipher.seal_bytes(data)
    assert is_sealed_bytes(sealed) and b"jane" not in sealed
    assert sealed != cipher.seal_bytes(data)  # a nonce of its own each time
    assert PIICipher(f"{PIICipher.generate_key()},{key}").open_bytes(sealed) == data
    tampered = sealed[:-1] + bytes([sealed[-1] ^ 1])
    for broken in (tampered, data):  # tampered, or never sealed
        with pytest.raises(PIIKeyMissing):
            cipher.open_bytes(broken)
    with pytest.raises(PIIKeyMissing):
        PIICipher(PIICipher.generate_key()).open_bytes(sealed)
