"""The order shapes intake takes, Amazon's own (SP-API Orders v0 and v2026-01-01): parsed here
for the entrypoints, which do not reach into the adapters."""

from __future__ import annotations

from typing import Any

from ingest.intake.adapters import amazon, amazon_v0, amazon_v2026
from ingest.intake.domain.model import IncomingOrder, Rejected

OrderV0 = amazon_v0.AmazonOrder
OrderV2026 = amazon_v2026.Order


def read_order(document: Any) -> IncomingOrder | Rejected:
    """An order document of either version, validated; a ``Rejected`` with the reasons."""
    return amazon.parse(document)
