"""Cursor pagination: lists answer ``{"items": [...], "next_cursor": ...}``."""

from __future__ import annotations

import base64
import binascii
from typing import Annotated, Any, Generic, TypeVar

import orjson
from fastapi import Query
from pydantic import BaseModel

from shared.api.problems import Problem

T = TypeVar("T")

MAX_LIMIT = 200

Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT, description=f"Page size, at most {MAX_LIMIT}")]
Cursor = Annotated[str | None, Query(max_length=512, description="next_cursor of the last page")]


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None = None


def encode_cursor(position: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(position)).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> dict[str, Any] | None:
    if not cursor:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        position = orjson.loads(raw)
    except (binascii.Error, ValueError) as exc:
        raise _bad_cursor() from exc
    if not isinstance(position, dict):
        raise _bad_cursor()
    return position


BIGINT_MAX = 2**63 - 1


def cursor_int(position: dict[str, Any] | None, key: str) -> int | None:
    """An integer position from a decoded cursor (a database id): checked, never trusted."""
    if position is None:
        return None
    value = position.get(key)
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= BIGINT_MAX:
        raise _bad_cursor()
    return value


def _bad_cursor() -> Problem:
    return Problem(
        400,
        "Invalid cursor",
        "Pass next_cursor exactly as a previous page gave it.",
        errors=[{"field": "query.cursor", "message": "not a cursor of this list"}],
    )
