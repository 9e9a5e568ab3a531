"""Hostile values for every kind of field, and the walk of an OpenAPI request that finds the
fields: what ``test_hostile_input`` sends.

A field's kind comes from its schema: an enumeration, a moment or a day, a uuid, printable
text (the input policy's pattern), money (its decimal pattern), an identifier (any other
pattern), a number, a boolean. Each kind has its hostile values (``classes``): NUL, control,
bidi-override, zero-width and separator characters and lone surrogates in every string; one
character over the field's length and 100,000 characters; '../' in identifiers; numbers past
every column (2**63, 2**64, 10**30, 1e309, NaN, Infinity, below zero); moments and days
outside 1970-2099. Raw JSON values (``Raw``) go into the body's text as they are (``1e309``
and ``NaN`` are not JSON a library would write).
"""

from __future__ import annotations

import copy
import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from shared import inputs

Path = tuple[str | int, ...]


@dataclass(frozen=True)
class Raw:
    """A JSON literal written into the body as it is."""

    text: str


@dataclass(frozen=True)
class Leaf:
    path: Path
    schema: dict[str, Any]
    kind: str


STRINGS: dict[str, Any] = {
    "nul": "a\x00b",
    "control": "a\x07b",
    "escape": "\x1b[31mred",
    "bidi-override": "abc\u202edef",
    "bidi-isolate": "a\u2067b",
    "zero-width": "a\u200bb",
    "byte-order-mark": "\ufeffab",
    "line-separator": "a\u2028b",
    "lone-surrogate": Raw('"a\\ud800b"'),
    "huge": "x" * 100_000,
}
NUMBERS: dict[str, Any] = {
    "2**63": 2**63,
    "2**64": 2**64,
    "10**30": 10**30,
    "1e309": Raw("1e309"),
    "-1e309": Raw("-1e309"),
    "NaN": Raw("NaN"),
    "Infinity": Raw("Infinity"),
    "below-zero": -1,
}
MONEY: dict[str, Any] = {
    "money-1e309": "1e309",
    "money-100000000000000.00": "100000000000000.00",
    "money-NaN": "NaN",
    "money-Infinity": "Infinity",
    "money-negative": "-1.00",
    "money-5-places": "1.00001",
    "money-number-1e309": Raw("1e309"),
}
MOMENTS = {"moment-year-1": "0001-01-01T00:00:00Z", "moment-year-9999": "9999-12-31T23:59:59Z"}
DAYS = {"day-year-1": "0001-01-01", "day-year-9999": "9999-12-31"}
IDENTIFIERS = {"path-traversal": "../../etc/passwd", "space": "a b"}


def classes(leaf: Leaf) -> dict[str, Any]:
    """The hostile values for a field of this kind."""
    found = dict(STRINGS)
    limit = leaf.schema.get("maxLength")
    if isinstance(limit, int):
        found["one-over"] = "x" * (limit + 1)
    if leaf.kind in ("number", "integer"):
        return NUMBERS | {"nul": "a\x00b"}
    if leaf.kind == "boolean":
        return {"nul": "a\x00b", "huge": "x" * 100_000}
    if leaf.kind == "money":
        found |= MONEY
    elif leaf.kind == "moment":
        found |= MOMENTS
    elif leaf.kind == "day":
        found |= DAYS
    elif leaf.kind == "identifier":
        found |= IDENTIFIERS
        if " " in leaf.schema.get("pattern", ""):  # a tracking number may hold spaces
            del found["space"]
    return found


def kind_of(schema: dict[str, Any]) -> str:
    if "enum" in schema or "const" in schema:
        return "enum"
    kind = schema.get("type")
    if kind in ("integer", "number", "boolean"):
        return str(kind)
    pattern = schema.get("pattern")
    return {
        "date-time": "moment",
        "date": "day",
        "uuid": "uuid",
        "binary": "binary",
    }.get(
        schema.get("format", ""),
        "money"
        if pattern == inputs.MONEY_DOC
        else "text"
        if pattern in (inputs.LINE_DOC, inputs.PROSE_DOC)
        else "identifier"
        if pattern
        else "string",
    )


def resolve(schema: dict[str, Any], doc: dict[str, Any], like: Any = None) -> dict[str, Any]:
    """A schema with its ``$ref`` followed and its nullable ``anyOf`` opened; of a ``oneOf``,
    the branch whose properties hold the most of ``like``'s keys."""
    while True:
        if "$ref" in schema:
            schema = doc["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
            continue
        options = schema.get("anyOf") or schema.get("oneOf")
        if options:
            branches = [resolve(o, doc, like) for o in options if o.get("type") != "null"]
            schema = max(branches, key=lambda b: _fit(b, like))
            continue
        return schema


def _fit(schema: dict[str, Any], like: Any) -> int:
    if isinstance(like, dict):
        return len(set(like) & set(schema.get("properties", {})))
    return int(schema.get("type") != "object")


def leaves(
    schema: dict[str, Any], base: Any, doc: dict[str, Any], path: Path = ()
) -> Iterator[Leaf]:
    """Every field the schema documents, with the path to it in ``base``. A field ``base``
    does not hold comes back with kind ``missing`` (its base is incomplete)."""
    schema = resolve(schema, doc, base)
    if schema.get("type") == "object" or "properties" in schema:
        for name, sub in schema.get("properties", {}).items():
            if not isinstance(base, dict) or name not in base:
                yield Leaf((*path, name), sub, "missing")
                continue
            yield from leaves(sub, base[name], doc, (*path, name))
    elif schema.get("type") == "array":
        if isinstance(base, list) and base:
            yield from leaves(schema.get("items", {}), base[0], doc, (*path, 0))
        else:
            yield Leaf(path, schema, "missing")
    else:
        yield Leaf(path, schema, kind_of(schema))


def placed(base: Any, path: Path, value: Any) -> Any:
    """A copy of ``base`` with ``value`` at ``path``."""
    copied = copy.deepcopy(base)
    target = copied
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = value
    return copied


def json_bytes(body: Any) -> bytes:
    """``body`` as JSON text, its ``Raw`` values written as they are."""
    raws: dict[str, str] = {}

    def swap(value: Any) -> Any:
        if isinstance(value, Raw):
            marker = f"__raw_{uuid.uuid4().hex}__"
            raws[marker] = value.text
            return marker
        if isinstance(value, dict):
            return {k: swap(v) for k, v in value.items()}
        if isinstance(value, list):
            return [swap(v) for v in value]
        return value

    text = json.dumps(swap(body), ensure_ascii=False)  # 2**64 and past: not orjson's
    for marker, literal in raws.items():
        text = text.replace(f'"{marker}"', literal)
    return text.encode()


def as_text(value: Any) -> str | None:
    """A hostile value as a query, path or header parameter carries it (None: it cannot be
    sent that way: a lone surrogate is not UTF-8)."""
    if isinstance(value, Raw):
        return None if value.text.startswith('"') else value.text
    return str(value)
