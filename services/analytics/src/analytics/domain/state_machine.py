"""An alert's lifecycle: raised once when a metric crosses its target, cleared when back on it.

Transition table (the only way an alert's state changes):

    (none)   --crossed-->   active
    active   --recovered--> cleared
    cleared  is final; the next crossing raises a new alert
"""

from __future__ import annotations

from enum import StrEnum

from analytics.domain.errors import InvalidTransition
from analytics.domain.metrics import Status


class AlertState(StrEnum):
    NONE = "none"
    ACTIVE = "active"
    CLEARED = "cleared"


class Trigger(StrEnum):
    CROSSED = "crossed"
    RECOVERED = "recovered"


TRANSITIONS: dict[tuple[AlertState, Trigger], AlertState] = {
    (AlertState.NONE, Trigger.CROSSED): AlertState.ACTIVE,
    (AlertState.ACTIVE, Trigger.RECOVERED): AlertState.CLEARED,
}


def transition(state: AlertState, trigger: Trigger) -> AlertState:
    try:
        return TRANSITIONS[(state, trigger)]
    except KeyError:
        raise InvalidTransition(f"an alert cannot go from {state} on {trigger}") from None


def trigger_for(active: bool, status: Status) -> Trigger | None:
    """What a metric's fresh status means for its alert: raise, clear, or nothing."""
    crossed = status in (Status.AT_RISK, Status.CRITICAL)
    if crossed and not active:
        return Trigger.CROSSED
    if not crossed and active and status is Status.GOOD:
        return Trigger.RECOVERED
    return None
