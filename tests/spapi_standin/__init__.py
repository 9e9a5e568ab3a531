"""A local stand-in for Amazon's SP-API (LWA token endpoint, Orders v0 and v2026-01-01)."""

from spapi_standin.server import Fault, StandIn, running_standin

__all__ = ["Fault", "StandIn", "running_standin"]
