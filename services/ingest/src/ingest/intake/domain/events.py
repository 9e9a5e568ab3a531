"""What intake announces, as domain facts; ``adapters/outbox.py`` turns them into the
versioned CloudEvents of ``shared.events`` (``order.created``/``order.updated`` on orders.v1,
``ad_performance.reported`` on ads.v1)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from shared.events.ads import AdPerformance


@dataclass(frozen=True)
class OrderAccepted:
    """A new order (``created``) or a newer state of a known one, as version ``version``, of
    the batch's seller (``adapters/outbox.OrderEvents`` holds the seller and the correlation
    id every event of a batch shares).

    ``snapshot``: ``OrderSnapshot``'s fields, in its order, with values validated on the way
    in (the Amazon shape; see ``service_layer/handlers._snapshot``), not validated again:
    docs/adr/0058-ingest-validates-and-serialises-once.md."""

    snapshot: dict[str, Any]
    amazon_order_id: str
    version: int
    created: bool


@dataclass(frozen=True)
class AdRowReported:
    """A new ad performance row (version 1) or a restatement of one."""

    row: AdPerformance
    subject: str
    version: int
    correlation_id: str | None = None
