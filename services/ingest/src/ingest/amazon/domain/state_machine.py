"""The gateway's two state machines, each an explicit transition table and one
``transition()`` that raises ``InvalidTransition``: a connection (active <-> paused) and a
shipment confirmation (pending -> sent | failed, failed -> pending on retry)."""

from __future__ import annotations

from ingest.amazon.domain import confirmations, connections

connection_transition = connections.transition
confirmation_transition = confirmations.transition
CONNECTION_TRANSITIONS = connections.TRANSITIONS
CONFIRMATION_TRANSITIONS = confirmations.TRANSITIONS
