"""Reading a Kafka record: ``Message`` (what the runner needs of one), ``decode`` (its envelope
and typed payload, or ``PoisonMessage``), ``correlation_of`` (the id its log lines carry) and
``peek`` (its type and subject, even when its payload is broken)."""

from __future__ import annotations

import functools
from collections.abc import Collection
from dataclasses import dataclass
from typing import Annotated, Any, Literal, Union

import orjson
from aiokafka import ConsumerRecord, TopicPartition
from pydantic import Discriminator, Field, TypeAdapter, ValidationError, create_model

from shared.errors import PoisonMessage
from shared.events.registry import PAYLOADS, UnknownEventType, parse_payload
from shared.messaging.envelope import MAX_EVENT_BYTES, CloudEvent


@dataclass(frozen=True)
class Message:
    """What the runner needs of a Kafka record (also built from a stored dead letter)."""

    topic: str
    partition: int
    offset: int
    key: str | None
    value: bytes

    @property
    def tp(self) -> TopicPartition:
        return TopicPartition(self.topic, self.partition)

    @classmethod
    def of(cls, record: ConsumerRecord[bytes, bytes]) -> Message:
        key = record.key.decode(errors="replace") if record.key is not None else None
        return cls(record.topic, record.partition, record.offset, key, record.value or b"")


def decode(message: Message, handled: Collection[str] | None = None) -> tuple[CloudEvent, Any]:
    """The envelope and its typed payload; ``PoisonMessage`` when either is broken.

    With ``handled`` (the types this service applies), a known type it does not handle comes
    back with no payload, unvalidated: another service's event is not this one's to parse or
    to dead-letter (analytics and defects read every fulfillment event and apply a few). An
    unknown type is still poison: nothing in this build can read it.

    The handled types are read in one pass from JSON, envelope and payload together
    (``_reader``); the event's ``data`` is then the payload itself.
    """
    if len(message.value) > MAX_EVENT_BYTES:
        raise PoisonMessage(
            f"payload of {len(message.value)} bytes is over the {MAX_EVENT_BYTES}-byte limit"
        )
    parsed = frozenset(PAYLOADS if handled is None else handled)
    try:
        event = _reader(parsed).validate_json(message.value)
        if isinstance(event, _Typed):
            if not event.dataschema.endswith(":1"):
                raise UnknownEventType(f"{event.type} schema {event.dataschema}")
            return event, event.data
        if event.type not in parsed and event.type in PAYLOADS:
            return event, None
        # An unknown type, or a handled one whose payload did not validate: say which.
        return event, parse_payload(event)
    except (ValueError, ValidationError, UnknownEventType) as exc:
        raise PoisonMessage(f"{type(exc).__name__}: {exc}"[:2000]) from exc


class _Typed(CloudEvent):
    """An envelope read together with its payload: ``data`` is the payload's model."""


@functools.cache
def _reader(types: frozenset[str]) -> TypeAdapter[CloudEvent]:
    """Reads an event from JSON: as an envelope with its typed payload when its type is one of
    ``types`` (one pass in pydantic-core, chosen by the ``type`` field: about a third less than
    parsing the JSON, then the envelope, then the payload), else as a plain envelope."""
    typed: list[Any] = [
        create_model(
            f"Typed_{name}",
            __base__=_Typed,
            type=(_literal(name), ...),
            data=(PAYLOADS[name], ...),
        )
        for name in sorted(types & PAYLOADS.keys())
    ]
    if not typed:
        return TypeAdapter(CloudEvent)
    one_of = typed[0] if len(typed) == 1 else Annotated[Union[tuple(typed)], Discriminator("type")]  # noqa: UP007
    either: Any = Annotated[Union[one_of, CloudEvent], Field(union_mode="left_to_right")]  # noqa: UP007
    return TypeAdapter(either)


def _literal(value: str) -> Any:
    return Literal[value]


def correlation_of(message: Message) -> str:
    """The id that correlates a message's log lines: its envelope's ``correlationid``, else its
    event id; a message whose envelope cannot be read is named by where it is on Kafka."""
    try:
        envelope = orjson.loads(message.value)
    except orjson.JSONDecodeError:
        envelope = None
    if isinstance(envelope, dict):
        for name in ("correlationid", "id"):
            if isinstance(envelope.get(name), str) and envelope[name]:
                return str(envelope[name])[:128]
    return f"kafka:{message.topic}/{message.partition}/{message.offset}"


def peek(message: Message) -> tuple[str | None, str | None]:
    try:
        event = CloudEvent.from_bytes(message.value)
        return event.type, event.subject
    except (ValueError, ValidationError):
        return None, message.key
