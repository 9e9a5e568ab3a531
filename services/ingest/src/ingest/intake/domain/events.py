"""What intake announces, as domain facts; ``adapters/outbox.py`` turns them into the
versioned CloudEvents of ``shared.events`` (``order.created``/``order.updated`` on orders.v1,
``ad_performance.reported`` on ads.v1)."""

from __future__ import annotations

from dataclasses import dataclass

from shared.events.ads import AdPerformance
from shared.events.orders import OrderSnapshot


@dataclass(frozen=True)
class OrderAccepted:
    """A new order (``created``) or a newer state of a known one, as version ``version``."""

    snapshot: OrderSnapshot
    amazon_order_id: str
    seller_id: str
    version: int
    created: bool
    correlation_id: str | None = None


@dataclass(frozen=True)
class AdRowReported:
    """A new ad performance row (version 1) or a restatement of one."""

    row: AdPerformance
    subject: str
    version: int
    correlation_id: str | None = None
