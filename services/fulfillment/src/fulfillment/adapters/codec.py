"""The order aggregate to and from JSON (the ``doc`` column): decimals and datetimes as text.

Both directions run for every order a consumer or a command touches, so both run in C:
writing is orjson's own dataclass serialisation; reading is msgspec's ``convert``, which builds
the same dataclasses from the decoded document (see docs/adr/0018-order-document-codec.md).
Fields a later build added are ignored; a missing or malformed field is a ``ValueError`` naming
it.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import msgspec
import orjson

from fulfillment.domain.model import Order


def dump(order: Order) -> str:
    """The order as JSON text, written by orjson straight from the dataclasses (enums as their
    values, datetimes in ISO 8601; attributes starting with an underscore, such as the events
    still to announce, are left out)."""
    return orjson.dumps(order, default=_text, option=orjson.OPT_NON_STR_KEYS).decode()


def _text(value: Any) -> str:
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(f"cannot store {type(value).__name__} in an order document")


def order_of(doc: dict[str, Any]) -> Order:
    """The order a stored document holds (``msgspec.ValidationError``, a ``ValueError``, when
    it does not)."""
    return msgspec.convert(doc, Order)
