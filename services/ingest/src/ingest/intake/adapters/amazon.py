"""One entry for Amazon-shaped orders: v2026-01-01 (``orderId``) or v0 (``AmazonOrderId``)."""

from __future__ import annotations

from typing import Any

from ingest.intake.adapters import amazon_v0, amazon_v2026
from ingest.intake.domain.model import IncomingOrder, Rejected


def is_v2026(data: Any) -> bool:
    if isinstance(data, dict) and isinstance(data.get("order"), dict):
        data = data["order"]
    return isinstance(data, dict) and "orderId" in data and "AmazonOrderId" not in data


def parse(data: Any) -> IncomingOrder | Rejected:
    """Detect the shape and validate: v2026 has ``orderId``, v0 has ``AmazonOrderId``."""
    return amazon_v2026.parse(data) if is_v2026(data) else amazon_v0.parse(data)
