"""The alert job: evaluate the sellers' account health and raise or clear alerts.

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
from datetime import datetime, timedelta
from typing import Any

from analytics.adapters.outbox import cloud_events
from analytics.domain.errors import AlertRaced
from analytics.domain.events import AlertChanged, AlertCleared, AlertRaised
from analytics.domain.metrics import Metric
from analytics.domain.model import Alert
from analytics.domain.state_machine import AlertState, Trigger, transition, trigger_for
from analytics.service_layer.queries import health_changes_next, health_of
from analytics.service_layer.unit_of_work import UnitOfWork

log = logging.getLogger(__name__)
NewUnitOfWork = Callable[[], UnitOfWork]


RECHECK_SECONDS = 300.0


async def evaluate(
    new_uow: NewUnitOfWork,
    *,
    now: datetime,
    sellers: Sequence[str] | None = None,
    next_change: dict[str, datetime | None] | None = None,
) -> list[AlertChanged]:
    """One pass over ``sellers`` (default: every seller); answers the alerts raised or cleared.
    With ``next_change``, each seller's entry is set to when time alone may next change its
    metrics."""
    if sellers is None:
        async with new_uow() as uow:
            sellers = await uow.reads.sellers()
    changes: list[AlertChanged] = []
    for seller in sellers:
        try:
            async with new_uow() as uow:
                found = await _evaluate_seller(uow, seller, now=now)
                if next_change is not None:
                    next_change[seller] = await health_changes_next(uow.reads, seller, now)
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
    """Each ``tick`` evaluates only the sellers whose metrics may have changed since they were
    last evaluated (docs/adr/0055):

    - sellers with new events (``order_events`` ids past the last tick), each at most every
      ``seller_seconds``;
    - sellers for whom time alone has moved a row across a window's edge (the moment is
      found when a seller is evaluated, ``Reads.health_next_change``);
    - every ``recheck_seconds``, sellers with events recorded over the last two such periods,
      so that an event committed late by a concurrent consumer (its id below one already
      read) is not missed.

    The first tick evaluates every seller (a new job knows nothing). Evaluating every seller
    on a timer recomputed 120 days of each seller's orders each time, a cost that grew with the
    data whether anything had changed or not."""

    new_uow: NewUnitOfWork
    recheck_seconds: float = RECHECK_SECONDS
    seller_seconds: float = 60.0
    seen: int = 0  # the newest order_events id the last tick looked at
    last_recheck: datetime | None = None
    due: set[str] = field(default_factory=set)  # sellers with events not evaluated since
    evaluated: dict[str, datetime] = field(default_factory=dict)
    next_change: dict[str, datetime | None] = field(default_factory=dict)

    async def tick(self, now: datetime) -> list[str] | None:
        """Evaluate; answers the sellers evaluated (None: every seller, the first tick)."""
        last = self.last_recheck
        first = last is None
        recheck = last is None or (now - last).total_seconds() >= self.recheck_seconds
        async with self.new_uow() as uow:
            latest = await uow.reads.latest_event_id()
            if not first:
                self.due.update(await uow.reads.sellers_with_events(self.seen, latest))
            if recheck and last is not None:
                lookback = last - timedelta(seconds=self.recheck_seconds)
                self.due.update(await uow.reads.sellers_with_events_since(lookback))
        self.seen = latest
        if recheck:
            self.last_recheck = now
        if first:
            await evaluate(self.new_uow, now=now, next_change=self.next_change)
            self.evaluated = dict.fromkeys(self.next_change, now)
            return None
        timed = {s for s, at in self.next_change.items() if at is not None and now >= at}
        sellers = sorted(timed | {s for s in self.due if self._may_evaluate(s, now)})
        await evaluate(self.new_uow, now=now, sellers=sellers, next_change=self.next_change)
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
