"""Why an order is not showing: rules over what the platform knows of it (pure).

``diagnose(facts)`` answers a list of ``Finding(code, message)``, most fundamental first.
A foreign seller's order is never described: the only finding is "not under this seller".
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from analytics.domain.amazon_connection import ConnectionsSeen, connection_findings
from analytics.domain.findings import Finding as Finding
from shared import marketplaces

# Manage Orders' default view: the last 7 calendar days of the order's marketplace (today and
# the 6 before; docs/adr/0051-account-health-as-amazon-measures-it.md), as fulfillment's search.
DEFAULT_DAYS = 7
PENDING = ("Pending", "PendingAvailability")


@dataclass(frozen=True)
class KnownOrder:
    """The order as one source knows it (ingest or analytics' own read model)."""

    seller_id: str
    order_status: str | None
    purchase_date: datetime | None
    marketplace_id: str | None


@dataclass(frozen=True)
class TraceFacts:
    amazon_order_id: str
    now: datetime
    viewer_seller: str | None  # None: an ops/system key that sees every seller
    asked_marketplace: str | None = None
    ingest_reachable: bool = True
    at_ingest: KnownOrder | None = None
    quarantine_reasons: tuple[str, ...] = ()
    in_read_model: KnownOrder | None = None
    events_seen: int = 0
    dead_letters: int = 0
    unconsumed_events: int = 0  # published by ingest, not yet consumed by analytics
    total_lag: int = 0
    lag_threshold: int = 100
    connections: ConnectionsSeen | None = None  # None: not looked up (no seller, ingest down)

    @property
    def known(self) -> KnownOrder | None:
        return self.in_read_model or self.at_ingest


def diagnose(facts: TraceFacts) -> list[Finding]:
    known = facts.known
    if known is not None and _foreign(facts, known):
        return [_not_this_seller()]
    findings = [
        *_intake(facts),
        *_connection(facts),
        *_marketplace(facts, known),
        *_status(known),
        *_age(facts, known),
        *_pipeline(facts),
    ]
    return findings


def _foreign(facts: TraceFacts, known: KnownOrder) -> bool:
    return facts.viewer_seller is not None and known.seller_id != facts.viewer_seller


def _not_this_seller() -> Finding:
    return Finding(
        "other_seller_or_marketplace",
        "This order is not under this seller: check that you are signed in to the seller "
        "account (and region) that received it.",
    )


def _intake(facts: TraceFacts) -> list[Finding]:
    found: list[Finding] = []
    if facts.quarantine_reasons:
        reasons = "; ".join(facts.quarantine_reasons)
        found.append(
            Finding(
                "rejected_as_bad_input",
                f"Ingest rejected this order as bad input and quarantined it: {reasons}. "
                "Fix the input and send it again.",
                {"reasons": list(facts.quarantine_reasons)},
            )
        )
    seen = facts.known is not None or facts.events_seen > 0
    if not seen and not facts.quarantine_reasons and facts.ingest_reachable:
        found.append(
            Finding(
                "never_received",
                "No service has received this order: neither ingest nor any topic has it. "
                "Check the order id, and that it was sent (or synced from Amazon) at all.",
            )
        )
    return found


def _connection(facts: TraceFacts) -> list[Finding]:
    """The seller's Amazon connection for the order's marketplace (``amazon_connection``).
    An order held anywhere, its events or its refused input count as received."""
    if facts.connections is None:
        return []
    received = facts.known is not None or facts.events_seen > 0 or bool(facts.quarantine_reasons)
    return connection_findings(facts.connections, received=received)


def _marketplace(facts: TraceFacts, known: KnownOrder | None) -> list[Finding]:
    asked = facts.asked_marketplace
    if known is None or not asked or known.marketplace_id in (None, asked):
        return []
    return [
        Finding(
            "other_seller_or_marketplace",
            f"This order belongs to marketplace {known.marketplace_id}, not {asked}: "
            "switch the marketplace in the view.",
            {"marketplace_id": known.marketplace_id},
        )
    ]


def _status(known: KnownOrder | None) -> list[Finding]:
    if known is None or known.order_status not in PENDING:
        return []
    return [
        Finding(
            "pending_hidden",
            f"The order is {known.order_status}: payment is not authorised yet, and Manage "
            "Orders hides Pending orders by default. Do not ship it; it appears once Amazon "
            "moves it to Unshipped.",
        )
    ]


def _age(facts: TraceFacts, known: KnownOrder | None) -> list[Finding]:
    if known is None or known.purchase_date is None:
        return []
    day = marketplaces.local_date(known.purchase_date, known.marketplace_id)
    days = (marketplaces.local_date(facts.now, known.marketplace_id) - day).days
    if days < DEFAULT_DAYS:
        return []
    return [
        Finding(
            "older_than_default_view",
            f"The order was purchased {days} days ago ({day} on its marketplace's calendar); "
            f"Manage Orders shows the last {DEFAULT_DAYS} calendar days (today and the "
            f"{DEFAULT_DAYS - 1} before) by default. Widen the date range.",
            {"age_days": days},
        )
    ]


def _pipeline(facts: TraceFacts) -> list[Finding]:
    found: list[Finding] = []
    if facts.dead_letters:
        found.append(
            Finding(
                "stuck_in_dead_letter_queue",
                f"{facts.dead_letters} event(s) of this order failed to apply and sit in a "
                "dead-letter queue; an operator must fix and replay them.",
                {"dead_letters": facts.dead_letters},
            )
        )
    lagging = facts.unconsumed_events > 0 or facts.total_lag >= facts.lag_threshold
    if lagging:
        found.append(
            Finding(
                "consumer_lagging",
                f"Consumers are behind ({facts.total_lag} message(s) not yet processed; "
                f"{facts.unconsumed_events} of this order's events not yet applied): the order "
                "will show once they catch up.",
                {"total_lag": facts.total_lag, "unconsumed_events": facts.unconsumed_events},
            )
        )
    return found
