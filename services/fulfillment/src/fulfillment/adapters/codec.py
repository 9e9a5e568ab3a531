"""The order aggregate to and from JSON (the ``doc`` column): decimals and datetimes as text.

Both directions run for every order a consumer or a command touches, so what can be worked out
once per type (a dataclass's fields, its resolved type hints, how to load each field) is
worked out once and cached.
"""

from __future__ import annotations

import types
from collections.abc import Callable
from dataclasses import fields, is_dataclass
from datetime import datetime
from decimal import Decimal
from enum import Enum
from functools import cache
from typing import Any, Union, get_args, get_origin, get_type_hints

from fulfillment.domain.model import Order

SKIP = frozenset({"events"})
PLAIN = frozenset({str, int, float, bool, type(None)})

Loader = Callable[[Any], Any]


def dump(value: Any) -> Any:
    kind = type(value)
    if kind in PLAIN:
        return value
    try:
        names = _FIELDS[kind]
    except KeyError:
        names = _FIELDS[kind] = _dumped_fields(kind)
    if names is not None:  # a dataclass; most of its fields are plain: not worth a call
        return {
            name: v if type(v) in PLAIN else dump(v)
            for name in names
            for v in (getattr(value, name),)
        }
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return [v if type(v) in PLAIN else dump(v) for v in value]
    if isinstance(value, dict):
        return {k: v if type(v) in PLAIN else dump(v) for k, v in value.items()}
    return value


_FIELDS: dict[type, tuple[str, ...] | None] = {}


def _dumped_fields(kind: type) -> tuple[str, ...] | None:
    if not is_dataclass(kind):
        return None
    return tuple(f.name for f in fields(kind) if f.name not in SKIP)


def load(kind: Any, data: Any) -> Any:
    return None if data is None else _loader(kind)(data)


@cache
def _loader(kind: Any) -> Loader:
    """How to turn JSON into ``kind`` (``None`` is handled by the caller, ``load``)."""
    if kind is Any:
        return _same
    origin = get_origin(kind)
    if origin in (Union, types.UnionType):
        [inner] = [a for a in get_args(kind) if a is not type(None)]
        return _loader(inner)
    if origin is tuple:
        each = _loader(get_args(kind)[0])
        return lambda data: tuple(None if d is None else each(d) for d in data)
    if origin is list:
        each = _loader(get_args(kind)[0])
        return lambda data: [None if d is None else each(d) for d in data]
    if origin is dict:
        return dict
    if is_dataclass(kind) and isinstance(kind, type):
        return _dataclass_loader(kind)
    if kind is datetime:
        return datetime.fromisoformat
    if kind is Decimal or (isinstance(kind, type) and issubclass(kind, Enum)):
        loader: Loader = kind
        return loader
    return _same


def _dataclass_loader(kind: type) -> Loader:
    hints = get_type_hints(kind)
    known = {f.name: hints[f.name] for f in fields(kind) if f.init and f.name not in SKIP}
    loaders: dict[str, Loader] = {}

    def build(data: dict[str, Any]) -> Any:
        if not loaders:  # resolved on first use: a type may refer to itself
            loaders.update({name: _loader(hint) for name, hint in known.items()})
        return kind(
            **{k: None if v is None else loaders[k](v) for k, v in data.items() if k in loaders}
        )

    return build


def _same(data: Any) -> Any:
    return data


def order_of(doc: dict[str, Any]) -> Order:
    order: Order = load(Order, doc)
    return order
