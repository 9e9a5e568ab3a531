"""The order aggregate to and from JSON (the ``doc`` column): decimals and datetimes as text."""

from __future__ import annotations

import types
from dataclasses import fields, is_dataclass
from datetime import datetime
from decimal import Decimal
from enum import Enum
from typing import Any, Union, get_args, get_origin, get_type_hints

from fulfillment.domain.model import Order

SKIP = frozenset({"events"})


def dump(value: Any) -> Any:
    if is_dataclass(value) and not isinstance(value, type):
        return {f.name: dump(getattr(value, f.name)) for f in fields(value) if f.name not in SKIP}
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return [dump(v) for v in value]
    if isinstance(value, dict):
        return {k: dump(v) for k, v in value.items()}
    return value


def load(kind: Any, data: Any) -> Any:
    if data is None or kind is Any:
        return data
    origin = get_origin(kind)
    if origin in (Union, types.UnionType):
        [inner] = [a for a in get_args(kind) if a is not type(None)]
        return load(inner, data)
    if origin is tuple:
        return tuple(load(get_args(kind)[0], d) for d in data)
    if origin is list:
        return [load(get_args(kind)[0], d) for d in data]
    if origin is dict:
        return dict(data)
    if is_dataclass(kind) and isinstance(kind, type):
        hints = get_type_hints(kind)
        known = {f.name for f in fields(kind) if f.init and f.name not in SKIP}
        return kind(**{k: load(hints[k], v) for k, v in data.items() if k in known})
    if kind in (Decimal, datetime) or (isinstance(kind, type) and issubclass(kind, Enum)):
        return datetime.fromisoformat(data) if kind is datetime else kind(data)
    return data


def order_of(doc: dict[str, Any]) -> Order:
    order: Order = load(Order, doc)
    return order
