"""What analytics announces: an alert raised or cleared (published on ``analytics.v1`` as
``alert.raised`` / ``alert.cleared``; ``adapters/outbox.py`` builds the CloudEvents)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal


@dataclass(frozen=True)
class AlertChanged:
    alert_id: int
    seller_id: str
    metric: str
    scope: str
    status: str
    value: Decimal | None
    numerator: int
    denominator: int
    threshold: Decimal
    raised_at: datetime
    cleared_at: datetime | None
    message: str


@dataclass(frozen=True)
class AlertRaised(AlertChanged):
    pass


@dataclass(frozen=True)
class AlertCleared(AlertChanged):
    pass
