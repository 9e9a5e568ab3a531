"""The order aggregate to and from JSON (the ``doc`` column): decimals and datetimes as text.

Both directions run for every order a consumer or a command touches. Writing is orjson's own
dataclass serialisation; reading works out once per type what it can (a dataclass's fields, its
resolved type hints, how to load each field) and caches it.
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

import orjson

from fulfillment.domain.model import Order

Loader = Callable[[Any], Any]


def dump(order: Order) -> str:
    """The order as JSON text, written by orjson straight from the dataclasses (enums as their
    values, datetimes in ISO 8601; attributes starting with an underscore, such as the events
    still to announce, are left out)."""
    return orjson.dumps(order, default=_text, option=orjson.OPT_NON_STR_KEYS).decode()


def _text(value: Any) -> str:
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(f"cannot store {type(value).__name__} in an order document")


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
    known = {f.name: hints[f.name] for f in fields(kind) if f.init and not f.name.startswith("_")}
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
