"""Intake keeps no status of its own: an order's stored version moves only forward, by
Amazon's ``LastUpdateDate`` (``decide``: created, updated, unchanged or stale). The order's
status is Amazon's ``OrderStatus``, taken as Amazon sends it."""

from __future__ import annotations

from ingest.intake.domain.model import IntakeResult, decide

__all__ = ["IntakeResult", "decide"]
