"""Cursor pagination: lists answer ``{"items": [...], "next_cursor": ...}``.

A cursor is the position after a page's last item, as base64url JSON. It comes back from the
client, so it is input like any other: ``read_cursor`` decodes it into the list's own
``Position`` model (typed, bounded fields, nothing extra) or answers 400 with a detail. Every
list reads its cursor this one way.
"""

from __future__ import annotations

import base64
import binascii
from typing import Annotated, Any, Generic, TypeVar

import orjson
from fastapi import Query
from pydantic import BaseModel, ConfigDict, ValidationError

from shared import inputs
from shared.api.problems import Problem

T = TypeVar("T")
P = TypeVar("P", bound="Position")

MAX_LIMIT = 200
MAX_CURSOR = 512

Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT, description=f"Page size, at most {MAX_LIMIT}")]
Cursor = Annotated[
    str | None,
    Query(
        max_length=MAX_CURSOR,
        pattern=r"^[A-Za-z0-9_-]*$",
        description="next_cursor of the last page",
    ),
]


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None = None


class Position(BaseModel):
    """Where a page ended; each list subclasses it with its own fields."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


def encode_cursor(position: dict[str, Any] | Position) -> str:
    data = position.model_dump(mode="json") if isinstance(position, Position) else position
    return base64.urlsafe_b64encode(orjson.dumps(data)).decode().rstrip("=")


def read_cursor(cursor: str | None, position: type[P]) -> P | None:
    """The position a cursor names, checked against the list's model; never trusted."""
    if not cursor:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        return position.model_validate_json(raw)
    except (binascii.Error, ValueError, ValidationError) as exc:
        raise bad_cursor() from exc


BIGINT_MAX = inputs.INT64_MAX


class Before(Position):
    """A newest-first list by a database id."""

    before: inputs.Count64


class After(Position):
    """An oldest-first list by a database id."""

    after: inputs.Count64


def bad_cursor() -> Problem:
    return Problem(
        400,
        "Invalid cursor",
        "Pass next_cursor exactly as a previous page of the same list gave it.",
        errors=[{"field": "query.cursor", "message": "not a cursor of this list"}],
    )
