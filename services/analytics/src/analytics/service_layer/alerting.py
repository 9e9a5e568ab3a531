"""The alert job: evaluate every seller's account health and raise or clear alerts.

An alert is raised once when a metric crosses its target (``at_risk`` or ``critical``) and
cleared when the metric is back to ``good``; each change is stored and published on
``analytics.v1`` through the outbox in the same transaction (one unit of work a seller,
committed explicitly).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from analytics.adapters.outbox import cloud_events
from analytics.domain.errors import AlertRaced
from analytics.domain.events import AlertChanged, AlertCleared, AlertRaised
from analytics.domain.metrics import Metric
from analytics.domain.model import Alert
from analytics.domain.state_machine import AlertState, Trigger, transition, trigger_for
from analytics.service_layer.queries import health_of
from analytics.service_layer.unit_of_work import UnitOfWork

log = logging.getLogger(__name__)
NewUnitOfWork = Callable[[], UnitOfWork]


FULL_PASS_SECONDS = 300.0


async def evaluate(
    new_uow: NewUnitOfWork, *, now: datetime, sellers: Sequence[str] | None = None
) -> list[AlertChanged]:
    """One pass over ``sellers`` (default: every seller); answers the alerts raised or cleared."""
    if sellers is None:
        async with new_uow() as uow:
            sellers = await uow.reads.sellers()
    changes: list[AlertChanged] = []
    for seller in sellers:
        try:
            async with new_uow() as uow:
                found = await _evaluate_seller(uow, seller, now=now)
                uow.publish(cloud_events(found))
                await uow.commit()
            changes += found
        except AlertRaced:  # another instance raised the same alert first
            log.info("alert raced with another instance", extra={"seller_id": seller})
    return changes


async def _evaluate_seller(uow: UnitOfWork, seller_id: str, *, now: datetime) -> list[AlertChanged]:
    active = await uow.alerts.active(seller_id)
    changes: list[AlertChanged] = []
    for metric in await health_of(uow.reads, seller_id, now):
        current = active.get((metric.name, metric.scope))
        trigger = trigger_for(current is not None, metric.status)
        if trigger is Trigger.CROSSED:
            state = transition(AlertState.NONE, trigger)
            row = await uow.alerts.add(_raised(seller_id, metric, state, now))
            changes.append(_changed(AlertRaised, row))
        elif trigger is Trigger.RECOVERED and current is not None:
            state = transition(AlertState(current.state), trigger)
            row = await uow.alerts.clear(current.id, state=state.value, at=now)
            changes.append(_changed(AlertCleared, row))
    return changes


def _raised(seller_id: str, metric: Metric, state: AlertState, now: datetime) -> dict[str, Any]:
    shown = "n/a" if metric.value is None else f"{metric.value * 100:.2f}%"
    return {
        "seller_id": seller_id,
        "metric": metric.name,
        "scope": metric.scope,
        "state": state.value,
        "status": metric.status.value,
        "value": metric.value,
        "numerator": metric.numerator,
        "denominator": metric.denominator,
        "threshold": metric.target.threshold,
        "message": (
            f"{metric.name} ({metric.scope}) is {shown} "
            f"({metric.numerator}/{metric.denominator}): {metric.status.value}, "
            f"target {metric.target.direction.value} {metric.target.threshold * 100}%"
        ),
        "raised_at": now,
        "details": {"window_days": metric.window.days, "window_by": metric.window.by},
    }


def _changed(kind: type[AlertChanged], row: Alert) -> AlertChanged:
    return kind(
        alert_id=row.id,
        seller_id=row.seller_id,
        metric=row.metric,
        scope=row.scope,
        status=row.status,
        value=row.value,
        numerator=row.numerator,
        denominator=row.denominator,
        threshold=row.threshold,
        raised_at=row.raised_at,
        cleared_at=row.cleared_at,
        message=row.message,
    )


@dataclass
class AlertJob:
    """Each ``tick`` evaluates the sellers that had events since they were last evaluated, each
    at most every ``seller_seconds``; every ``full_pass_seconds``, every seller (windows slide
    with time, and an event committed late by a concurrent consumer may have been missed).
    Evaluating every seller every few seconds recomputed 120 days of each seller's orders each
    time, a cost that grew with the data; a busy seller has new events on every tick."""

    new_uow: NewUnitOfWork
    full_pass_seconds: float = FULL_PASS_SECONDS
    seller_seconds: float = 60.0
    seen: int = 0  # the newest order_events id the last tick looked at
    last_full: datetime | None = None
    due: set[str] = field(default_factory=set)  # sellers with events not evaluated since
    evaluated: dict[str, datetime] = field(default_factory=dict)

    async def tick(self, now: datetime) -> list[str] | None:
        """Evaluate; answers the sellers evaluated (None: every seller)."""
        last = self.last_full
        full = last is None or (now - last).total_seconds() >= self.full_pass_seconds
        async with self.new_uow() as uow:
            latest = await uow.reads.latest_event_id()
            if not full:
                self.due.update(await uow.reads.sellers_with_events(self.seen, latest))
        self.seen = latest
        if full:
            await evaluate(self.new_uow, now=now)
            self.last_full, self.due, self.evaluated = now, set(), {}
            return None
        sellers = sorted(s for s in self.due if self._may_evaluate(s, now))
        await evaluate(self.new_uow, now=now, sellers=sellers)
        self.due.difference_update(sellers)
        self.evaluated.update((s, now) for s in sellers)
        return sellers

    def _may_evaluate(self, seller: str, now: datetime) -> bool:
        last = self.evaluated.get(seller)
        return last is None or (now - last).total_seconds() >= self.seller_seconds


async def run_forever(
    new_uow: NewUnitOfWork,
    *,
    interval: float,
    clock: Callable[[], datetime],
    seller_seconds: float = 60.0,
) -> None:
    job = AlertJob(new_uow, seller_seconds=seller_seconds)
    while True:
        try:
            await job.tick(clock())
        except Exception:
            log.exception("alert evaluation failed; will retry")
        await asyncio.sleep(interval)
