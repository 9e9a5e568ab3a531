"""Analytics' own entity: an alert on one metric of one seller (its lifecycle is
``state_machine.py``). Everything else analytics holds is a read model of other services'
events, kept as rows (``adapters/orm.py``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any


@dataclass(frozen=True)
class Alert:
    id: int
    seller_id: str
    metric: str
    scope: str
    state: str  # state_machine.AlertState
    status: str  # metrics.Status when raised
    value: Decimal | None
    numerator: int
    denominator: int
    threshold: Decimal
    message: str
    raised_at: datetime
    cleared_at: datetime | None = None
    details: dict[str, Any] = field(default_factory=dict)
