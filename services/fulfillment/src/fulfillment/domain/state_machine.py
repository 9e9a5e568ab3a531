"""The order's status, in Amazon's words, and the one table of what may change it.

Seller actions (``Action``) move an order from one status to exactly one other (often the
same: a refund leaves a Shipped order Shipped). ``AMAZON_MOVES`` lists where an Amazon update
(an orders.v1 snapshot) may take an order. ``transition`` is the only way a status changes; it
raises ``InvalidTransition`` saying why when the table has no entry.

Merge rule for snapshots (``merge_amazon_status``): Amazon's terminal statuses (Canceled,
Unfulfillable, and the shipped family Shipped/InvoiceUnconfirmed) win over local progress;
any other Amazon status is taken only when it is further along than the status held here, so
a late or replayed snapshot never undoes a seller's action (Unshipped arriving after the
seller confirmed shipment keeps Shipped). A Canceled order stays Canceled.
"""

from __future__ import annotations

from enum import StrEnum

from fulfillment.domain.errors import InvalidTransition


class Status(StrEnum):
    PENDING_AVAILABILITY = "PendingAvailability"
    PENDING = "Pending"
    UNSHIPPED = "Unshipped"
    PARTIALLY_SHIPPED = "PartiallyShipped"
    SHIPPED = "Shipped"
    INVOICE_UNCONFIRMED = "InvoiceUnconfirmed"
    CANCELED = "Canceled"
    UNFULFILLABLE = "Unfulfillable"


class Action(StrEnum):
    SHIP_PART = "confirm_partial_shipment"
    SHIP_ALL = "confirm_shipment"
    EDIT_SHIPMENT = "edit_shipment"
    CANCEL = "cancel"
    REFUND = "refund"
    AUTHORIZE_RETURN = "authorize_return"
    RECEIVE_RETURN = "receive_return"
    SCHEDULE_PICKUP = "schedule_pickup"
    PRINT_PACKING_SLIP = "print_packing_slip"
    FLAG_LATE = "flag_late"


S, A = Status, Action
_SHIPPED_FAMILY = (S.PARTIALLY_SHIPPED, S.SHIPPED, S.INVOICE_UNCONFIRMED)

TRANSITIONS: dict[tuple[Status, Action], Status] = {
    (S.UNSHIPPED, A.SHIP_PART): S.PARTIALLY_SHIPPED,
    (S.UNSHIPPED, A.SHIP_ALL): S.SHIPPED,
    (S.PARTIALLY_SHIPPED, A.SHIP_PART): S.PARTIALLY_SHIPPED,
    (S.PARTIALLY_SHIPPED, A.SHIP_ALL): S.SHIPPED,
    (S.PENDING_AVAILABILITY, A.CANCEL): S.CANCELED,
    (S.PENDING, A.CANCEL): S.CANCELED,
    (S.UNSHIPPED, A.CANCEL): S.CANCELED,
    (S.UNSHIPPED, A.SCHEDULE_PICKUP): S.UNSHIPPED,
    (S.PARTIALLY_SHIPPED, A.SCHEDULE_PICKUP): S.PARTIALLY_SHIPPED,
    (S.UNSHIPPED, A.PRINT_PACKING_SLIP): S.UNSHIPPED,
    (S.UNSHIPPED, A.FLAG_LATE): S.UNSHIPPED,
    (S.PARTIALLY_SHIPPED, A.FLAG_LATE): S.PARTIALLY_SHIPPED,
    **{(s, A.EDIT_SHIPMENT): s for s in _SHIPPED_FAMILY},
    **{(s, A.REFUND): s for s in _SHIPPED_FAMILY},
    **{(s, A.AUTHORIZE_RETURN): s for s in _SHIPPED_FAMILY},
    **{(s, A.RECEIVE_RETURN): s for s in _SHIPPED_FAMILY},
    **{(s, A.PRINT_PACKING_SLIP): s for s in _SHIPPED_FAMILY},
}

AMAZON_MOVES: dict[Status, frozenset[Status]] = {
    S.PENDING_AVAILABILITY: frozenset(set(S) - {S.PENDING_AVAILABILITY}),
    S.PENDING: frozenset(set(S) - {S.PENDING_AVAILABILITY, S.PENDING}),
    S.UNSHIPPED: frozenset(
        {S.PARTIALLY_SHIPPED, S.SHIPPED, S.INVOICE_UNCONFIRMED, S.CANCELED, S.UNFULFILLABLE}
    ),
    S.PARTIALLY_SHIPPED: frozenset({S.SHIPPED, S.INVOICE_UNCONFIRMED, S.CANCELED}),
    S.SHIPPED: frozenset({S.INVOICE_UNCONFIRMED}),
    S.INVOICE_UNCONFIRMED: frozenset({S.SHIPPED}),
    S.CANCELED: frozenset(),
    S.UNFULFILLABLE: frozenset({S.CANCELED}),
}

_PROGRESS = {
    S.PENDING_AVAILABILITY: 0,
    S.PENDING: 1,
    S.UNSHIPPED: 2,
    S.PARTIALLY_SHIPPED: 3,
    S.SHIPPED: 4,
    S.INVOICE_UNCONFIRMED: 4,
    S.UNFULFILLABLE: 5,
    S.CANCELED: 5,
}
_AMAZON_WINS = frozenset({S.SHIPPED, S.INVOICE_UNCONFIRMED, S.CANCELED, S.UNFULFILLABLE})

_WHY: dict[Status, str] = {
    S.PENDING_AVAILABILITY: "it is a pre-order not yet available; wait until it is Unshipped.",
    S.PENDING: "payment is not authorised yet, so Amazon has not released it for shipping.",
    S.UNSHIPPED: "nothing has shipped yet; the buyer is charged only when shipment is "
    "confirmed (cancel the order instead of refunding it).",
    S.PARTIALLY_SHIPPED: "part of it has already shipped; refund instead of canceling.",
    S.SHIPPED: "it has already shipped; refund or authorise a return instead.",
    S.INVOICE_UNCONFIRMED: "it has already shipped; refund or authorise a return instead.",
    S.CANCELED: "it is canceled.",
    S.UNFULFILLABLE: "Amazon marked it unfulfillable.",
}


_VERBS: dict[Action, str] = {
    A.SHIP_PART: "confirm a shipment for",
    A.SHIP_ALL: "confirm a shipment for",
    A.EDIT_SHIPMENT: "edit a shipment of",
    A.CANCEL: "cancel",
    A.REFUND: "refund",
    A.AUTHORIZE_RETURN: "authorise a return for",
    A.RECEIVE_RETURN: "receive a return for",
    A.SCHEDULE_PICKUP: "schedule a pickup for",
    A.PRINT_PACKING_SLIP: "print a packing slip for",
    A.FLAG_LATE: "flag as late",
}


def describe(action: Action) -> str:
    """The action as a verb phrase, for messages: "Cannot <verb> an order that is ..."."""
    return _VERBS[action]


def transition(status: Status, action: Action) -> Status:
    """The status after ``action``; raises ``InvalidTransition`` saying why not."""
    target = TRANSITIONS.get((status, action))
    if target is None:
        raise InvalidTransition(describe(action), status.value, _WHY[status])
    return target


def allowed(status: Status) -> list[Action]:
    return [action for action in Action if (status, action) in TRANSITIONS]


def amazon_transition(status: Status, target: Status) -> Status:
    """Apply an Amazon-side status change; raises ``InvalidTransition`` if the table forbids it."""
    if target == status:
        return status
    if target not in AMAZON_MOVES[status]:
        raise InvalidTransition(f"move to {target.value}", status.value, _WHY[status])
    return target


def merge_amazon_status(local: Status, amazon: Status) -> Status:
    """The status to hold after a newer snapshot says ``amazon`` (see the module docstring)."""
    wins = amazon in _AMAZON_WINS or _PROGRESS[amazon] > _PROGRESS[local]
    if not wins or amazon not in AMAZON_MOVES[local]:
        return local
    return amazon_transition(local, amazon)
