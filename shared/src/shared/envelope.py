"""The CloudEvents 1.0 envelope (structured JSON mode) every Orderflow event travels in.

Extension attributes (lower-case, as CloudEvents requires): ``sellerid``, ``correlationid``,
``causationid`` and ``aggregateversion`` (the version of the aggregate the event announces, which
only grows, so a consumer can drop an older or repeated update).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any, Literal

import orjson
from pydantic import BaseModel, ConfigDict, Field
from uuid_utils.compat import uuid7


class CloudEvent(BaseModel):
    model_config = ConfigDict(frozen=True, extra="allow")

    specversion: Literal["1.0"] = "1.0"
    # UUIDv7 (RFC 9562): time-ordered, so every index keyed on event ids (each consumer's
    # inbox, analytics' event log) takes new entries at its right edge instead of on a random
    # leaf, and ids sort by when the event was made. See docs/adr/0016-uuidv7-event-ids.md.
    id: uuid.UUID = Field(default_factory=uuid7)
    source: str
    type: str
    time: datetime = Field(default_factory=lambda: datetime.now(UTC))
    subject: str
    datacontenttype: Literal["application/json"] = "application/json"
    dataschema: str
    sellerid: str
    correlationid: str | None = None
    causationid: str | None = None
    aggregateversion: int = Field(ge=0)
    data: dict[str, Any]

    def to_bytes(self) -> bytes:
        # Straight to JSON in pydantic-core: the same bytes as dumping to a dict and that to
        # orjson, without building the dict.
        return self.__pydantic_serializer__.to_json(self, exclude_none=True)

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
