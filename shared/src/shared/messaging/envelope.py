"""The CloudEvents 1.0 envelope (structured JSON mode) every Orderflow event travels in.

Extension attributes (lower-case, as CloudEvents requires): ``sellerid``, ``correlationid``,
``causationid`` and ``aggregateversion`` (the version of the aggregate the event announces, which
only grows, so a consumer can drop an older or repeated update).

An event caused by a change made through a service's API names who made it: ``actorkey`` (the
API key's name), ``actorrole`` (``seller``, ``system`` or ``ops``) and, for a seller key,
``actorsellerid``. Three flat strings rather than one object: a CloudEvents extension
attribute holds a single value. Events from Kafka handlers and Amazon polling carry none (their
``causationid`` leads back to the event that did); all three are optional, so events written
before they existed still decode. See docs/adr/0050-audit-trail.md.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

import orjson
from pydantic import BaseModel, ConfigDict, Field
from uuid_utils.compat import uuid7

from shared import inputs

# The largest event a consumer takes (a larger one is dead-lettered when read): under Kafka's
# own 1 MB message cap, with room for the record's headers. A producer whose input could make
# a larger event (ingest: an order of many long lines) refuses that input instead.
MAX_EVENT_BYTES = 900 * 1024
_DATA = {"data"}


class CloudEvent(BaseModel):
    model_config = ConfigDict(frozen=True, extra="allow")

    specversion: Literal["1.0"] = "1.0"
    # UUIDv7 (RFC 9562): time-ordered, so every index keyed on event ids (each consumer's
    # inbox, analytics' event log) takes new entries at its right edge instead of on a random
    # leaf, and ids sort by when the event was made. See docs/adr/0016-uuidv7-event-ids.md.
    id: uuid.UUID = Field(default_factory=uuid7)
    source: inputs.Code
    type: inputs.Code
    time: datetime = Field(default_factory=lambda: datetime.now(UTC))
    subject: inputs.EventSubject
    datacontenttype: Literal["application/json"] = "application/json"
    dataschema: Annotated[str, inputs.Line(200)]
    sellerid: inputs.SellerId
    correlationid: inputs.CorrelationId | None = None
    causationid: inputs.CorrelationId | None = None
    aggregateversion: inputs.Version
    actorkey: Annotated[str, inputs.Line(64)] | None = None
    actorrole: Literal["seller", "system", "ops"] | None = None
    actorsellerid: inputs.SellerId | None = None
    data: dict[str, Any]

    def to_bytes(self) -> bytes:
        # Straight to JSON in pydantic-core: the same bytes as dumping to a dict and that to
        # orjson, without building the dict.
        return self.__pydantic_serializer__.to_json(self, exclude_none=True)

    def to_bytes_with(self, data: bytes) -> bytes:
        """``to_bytes`` with the payload already dumped: ``data`` is the JSON of ``self.data``
        (``pydantic_core.to_json``), put in as it is instead of serialised again. The same
        bytes: ``data`` is the envelope's last attribute (see
        docs/adr/0058-ingest-validates-and-serialises-once.md)."""
        if self.__pydantic_extra__:  # extension attributes would follow the data
            return self.to_bytes()
        head = self.__pydantic_serializer__.to_json(self, exclude_none=True, exclude=_DATA)
        return b"".join((head[:-1], b',"data":', data, b"}"))

    @classmethod
    def from_bytes(cls, raw: bytes) -> CloudEvent:
        return cls.model_validate(orjson.loads(raw))


def schema_uri(topic: str, event_type: str, version: int) -> str:
    return f"urn:orderflow:{topic}:{event_type}:{version}"


def seller_of(raw: bytes | None) -> str | None:
    """The ``sellerid`` a message's bytes name, read without validating the rest (a dead
    letter may be any bytes at all); None when it names none."""
    try:
        document = orjson.loads(raw or b"")
    except orjson.JSONDecodeError:
        return None
    seller = document.get("sellerid") if isinstance(document, dict) else None
    return seller if isinstance(seller, str) else None
