"""The gateway's model: a seller's SP-API connection and its sync windows
(``connections.py``), a shipment confirmation pushed to Amazon (``confirmations.py``), and
Amazon's rate limits (``throttle.py``). Collected here under the skeleton's name."""

from __future__ import annotations

from ingest.amazon.domain.confirmations import ShipmentFacts
from ingest.amazon.domain.connections import Connection, Credentials, Window

__all__ = ["Connection", "Credentials", "ShipmentFacts", "Window"]
