"""The intake decision: is an incoming order new, newer, the same, or stale?

Amazon bumps ``LastUpdateDate`` on every change, so it orders the versions of one order. One
exception: a Pending order is first seen without items; the same ``LastUpdateDate`` arriving
with items (from getOrderItems) is an enrichment and counts as an update.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any


class IntakeResult(StrEnum):
    CREATED = "created"
    UPDATED = "updated"
    UNCHANGED = "unchanged"
    STALE = "stale"


@dataclass(frozen=True)
class IncomingOrder:
    """An order as received, in our own names, PII still in clear (sealed before storing)."""

    amazon_order_id: str
    last_update_date: datetime
    order_status: str
    marketplace_id: str | None
    fields: dict[str, Any]
    pii: dict[str, Any] | None

    @property
    def item_count(self) -> int:
        return len(self.fields.get("items", ()))


@dataclass(frozen=True)
class KnownOrder:
    seller_id: str
    last_update_date: datetime
    version: int
    item_count: int


def decide(known: KnownOrder | None, incoming: IncomingOrder) -> IntakeResult:
    if known is None:
        return IntakeResult.CREATED
    if incoming.last_update_date > known.last_update_date:
        return IntakeResult.UPDATED
    if incoming.last_update_date < known.last_update_date:
        return IntakeResult.STALE
    if known.item_count == 0 and incoming.item_count > 0:
        return IntakeResult.UPDATED
    return IntakeResult.UNCHANGED


@dataclass(frozen=True)
class Rejected:
    """Input that cannot become an order, with reasons as ``{field, message}``."""

    reasons: list[dict[str, Any]]
    amazon_order_id: str | None = None
    status: int = 422
    raw: Any = None
    rows: list[int] | None = None
