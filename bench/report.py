"""Typed results and the JSON they are saved as.

Every figure a benchmark reports is a frozen dataclass; ``jsonable`` turns one (and the
dicts and lists around it) into the JSON document ``bench.common.save`` writes. A field's
name is its key. Markers in a field's metadata shape the document: ``OMIT`` leaves the key
out while the value is None (a figure the run did not measure, where the document has always
left it out rather than written null), ``FLATTEN`` writes a nested result's keys beside the
field's siblings instead of under its name, ``key(name)`` names a key that cannot be a field's
name (``from``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import fields, is_dataclass
from typing import Any

OMIT: Mapping[str, bool] = {"omit_if_none": True}
FLATTEN: Mapping[str, bool] = {"flatten": True}


def key(name: str) -> Mapping[str, str]:
    """A field's metadata: its key in the document is ``name``."""
    return {"key": name}


# A part of a report that is not (yet) a typed result: JSON as read or written.
Json = dict[str, Any]


def jsonable(value: object) -> object:
    """``value`` with every dataclass in it (at any depth) turned into a dict."""
    if is_dataclass(value) and not isinstance(value, type):
        return _fields(value)
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    return value


def _fields(result: object) -> dict[str, object]:
    out: dict[str, object] = {}
    for f in fields(result):  # type: ignore[arg-type]  # a dataclass instance: checked above
        value = getattr(result, f.name)
        if f.metadata.get("omit_if_none") and value is None:
            continue
        if f.metadata.get("flatten"):
            flat = jsonable(value)
            assert isinstance(flat, dict), f"{f.name}: only a result flattens"
            out.update(flat)
        else:
            out[f.metadata.get("key", f.name)] = jsonable(value)
    return out
