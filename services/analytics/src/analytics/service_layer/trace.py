"""The order trace: "why is my order not showing?" across ingest, the topics and analytics.

Gathers what ingest holds (over REST), every event analytics consumed for the order, its dead
letters and the consumer lag, then lets ``domain.diagnosis`` explain.

For a seller's key, an order with nothing visible under that seller (another seller's order, or
an id nobody has) raises ``NotThisSellersOrder``: one and the same 404 for both, so the answer
never tells that the id exists under another account. Ops and system keys see every trace.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from analytics.adapters.ingest_client import IngestPort, IngestView, Unreachable
from analytics.adapters.kafka_lag import LagPort, PartitionLag
from analytics.adapters.peers import Peers
from analytics.adapters.repository import Reads
from analytics.domain.diagnosis import Finding, KnownOrder, TraceFacts, diagnose
from analytics.domain.errors import NotThisSellersOrder

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TraceRequest:
    amazon_order_id: str
    viewer_seller: str | None
    marketplace_id: str | None
    now: datetime
    seller_key: bool = False  # a seller's own key (not ops or system narrowing to a seller)


@dataclass(frozen=True)
class TracePorts:
    ingest: IngestPort
    lag: LagPort
    group: str
    orders_topic: str
    lag_threshold: int
    peers: Peers | None = None


async def trace(
    sessions: async_sessionmaker[AsyncSession], ask: TraceRequest, ports: TracePorts
) -> dict[str, Any]:
    local = await _local(sessions, ask.amazon_order_id)
    at_ingest = await ports.ingest.view(ask.amazon_order_id)
    partitions, lag_error = await _lag(ports)
    elsewhere = await _peer_dead_letters(ports, ask.amazon_order_id)
    facts = _facts(ask, ports, local, at_ingest, partitions, elsewhere)
    findings = diagnose(facts)
    base: dict[str, Any] = {"amazon_order_id": ask.amazon_order_id, "as_of": ask.now}
    if ask.seller_key and not _visible(ask, facts):
        raise NotThisSellersOrder(ask.amazon_order_id, _not_visible(ask.amazon_order_id))
    return {
        **base,
        "ingest": _ingest_part(at_ingest, ask.viewer_seller),
        "read_model": local["summary"],
        "events": local["events"],
        "services": {
            **_applied_versions(local, at_ingest),
            "fulfillment": await _peer(ports, "fulfillment", ask.amazon_order_id),
        },
        "dead_letters": local["dead_letters"],
        "dead_letters_elsewhere": elsewhere,
        "consumer_lag": _lag_part(ports.group, partitions, lag_error),
        "diagnosis": [f.__dict__ for f in findings],
    }


async def _peer(ports: TracePorts, name: str, order_id: str) -> dict[str, Any] | None:
    """The peer's own view of the order, when it is configured (never fails the trace)."""
    return None if ports.peers is None else await ports.peers.order(name, order_id)


async def _peer_dead_letters(ports: TracePorts, order_id: str) -> dict[str, Any]:
    """Other consumers' dead letters of the order, from those that answer."""
    if ports.peers is None:
        return {}
    found = {n: await ports.peers.dead_letters_of(n, order_id) for n in ports.peers.consumers}
    return {name: letters for name, letters in found.items() if letters is not None}


def _foreign(ask: TraceRequest, known: KnownOrder) -> bool:
    return ask.viewer_seller is not None and known.seller_id != ask.viewer_seller


def _visible(ask: TraceRequest, facts: TraceFacts) -> bool:
    """Something of the order is this seller's: the order itself, or its quarantined input."""
    own = facts.known is not None and not _foreign(ask, facts.known)
    return own or bool(facts.quarantine_reasons)


def _not_visible(amazon_order_id: str) -> dict[str, object]:
    return Finding(
        "never_received",
        f"No order {amazon_order_id} is visible under this seller account: check the order "
        "id, that it was sent (or synced from Amazon) at all, and that you are signed in to "
        "the seller account and region that sold it. An order sent a moment ago may still be "
        "on its way.",
    ).__dict__


async def _local(sessions: async_sessionmaker[AsyncSession], order_id: str) -> dict[str, Any]:
    async with sessions() as session:
        reads = Reads(session)
        order = await reads.order(order_id)
        fulfillment = await reads.fulfillment_of(order_id)
        events = await reads.events_of(order_id)
        dead = await reads.dead_letters_of(order_id)
        cases = await reads.cases_of(order_id)
        shipments = await reads.shipments_of(order_id)
    return {
        "order": order,
        "fulfillment": fulfillment,
        "summary": _summary(order, fulfillment, cases, shipments),
        "events": [
            {
                "topic": e.topic,
                "partition": e.kafka_partition,
                "offset": e.kafka_offset,
                "version": e.version,
                "type": e.event_type,
                "source": e.source,
                "applied": e.applied,
                "event_time": e.event_time,
                "recorded_at": e.recorded_at,
            }
            for e in events
        ],
        "dead_letters": [
            {
                "id": d.id,
                "topic": d.topic,
                "partition": d.kafka_partition,
                "offset": d.kafka_offset,
                "event_type": d.event_type,
                "status": d.status,
                "error": d.error_message,
                "failed_at": d.failed_at,
            }
            for d in dead
        ],
        "stuck": sum(1 for d in dead if d.status == "dead"),
        "seller_ids": {e.seller_id for e in events},
    }


def _summary(order: Any, fulfillment: Any, cases: list[Any], shipments: list[Any]) -> Any:
    return {
        "order": None
        if order is None
        else {
            "seller_id": order.seller_id,
            "order_status": order.order_status,
            "version": order.version,
            "marketplace_id": order.marketplace_id,
            "fulfillment_channel": order.fulfillment_channel,
            "purchase_date": order.purchase_date,
        },
        "fulfillment": None
        if fulfillment is None
        else {
            "order_status": fulfillment.order_status,
            "version": fulfillment.version,
            "canceled_by": fulfillment.canceled_by,
            "ship_late": fulfillment.ship_late_at is not None,
        },
        "shipments": len(shipments),
        "defect_cases": [
            {"kind": c.kind, "status": c.status, "counts_toward_odr": c.counts_toward_odr}
            for c in cases
        ],
    }


async def _lag(ports: TracePorts) -> tuple[list[PartitionLag], str | None]:
    try:
        lags = await ports.lag.lag([ports.group])
    except Exception as exc:  # Kafka unreachable: the trace still answers
        log.warning("cannot read consumer lag", extra={"error": repr(exc)})
        return [], f"{type(exc).__name__}"
    return lags.get(ports.group, []), None


def _known_at_ingest(view: IngestView | Unreachable) -> KnownOrder | None:
    if isinstance(view, Unreachable) or view.order is None:
        return None
    order = view.order
    snapshot = order.get("order") or {}
    purchase = snapshot.get("purchase_date")
    return KnownOrder(
        seller_id=order["seller_id"],
        order_status=order.get("order_status"),
        purchase_date=datetime.fromisoformat(purchase) if purchase else None,
        marketplace_id=snapshot.get("marketplace_id"),
    )


def _owner_of_events(seller_ids: set[str]) -> KnownOrder | None:
    """Whose order it is when only its events were seen (e.g. fulfillment's, before ingest's)."""
    if not seller_ids:
        return None
    return KnownOrder(min(seller_ids), None, None, None)


def _known_here(order: Any) -> KnownOrder | None:
    if order is None:
        return None
    return KnownOrder(
        order.seller_id, order.order_status, order.purchase_date, order.marketplace_id
    )


def _facts(
    ask: TraceRequest,
    ports: TracePorts,
    local: dict[str, Any],
    view: IngestView | Unreachable,
    partitions: list[PartitionLag],
    elsewhere: dict[str, Any],
) -> TraceFacts:
    quarantine = _visible_quarantine(view, ask.viewer_seller)
    return TraceFacts(
        amazon_order_id=ask.amazon_order_id,
        now=ask.now,
        viewer_seller=ask.viewer_seller,
        asked_marketplace=ask.marketplace_id,
        ingest_reachable=not isinstance(view, Unreachable),
        at_ingest=_known_at_ingest(view),
        quarantine_reasons=tuple(
            f"{r.get('field')}: {r.get('message')}" for q in quarantine for r in q["reasons"]
        ),
        in_read_model=_known_here(local["order"]) or _owner_of_events(local["seller_ids"]),
        events_seen=len(local["events"]),
        dead_letters=local["stuck"] + sum(len(letters) for letters in elsewhere.values()),
        unconsumed_events=_unconsumed(view, partitions, ports.orders_topic),
        total_lag=sum(p.lag for p in partitions),
        lag_threshold=ports.lag_threshold,
    )


def _visible_quarantine(view: IngestView | Unreachable, seller: str | None) -> list[dict[str, Any]]:
    if isinstance(view, Unreachable):
        return []
    return [q for q in view.quarantine if seller is None or q.get("seller_id") == seller]


def _unconsumed(
    view: IngestView | Unreachable, partitions: list[PartitionLag], orders_topic: str
) -> int:
    """Events ingest published for the order at offsets analytics has not committed past."""
    if isinstance(view, Unreachable) or view.order is None:
        return 0
    committed = {p.partition: p.committed or 0 for p in partitions if p.topic == orders_topic}
    return sum(
        1
        for e in view.order.get("events", [])
        if e.get("topic") == orders_topic
        and e.get("offset") is not None
        and committed.get(e["partition"], 0) <= e["offset"]
    )


def _ingest_part(view: IngestView | Unreachable, seller: str | None) -> dict[str, Any]:
    if isinstance(view, Unreachable):
        return {"reachable": False, "error": view.reason}
    order = view.order
    return {
        "reachable": True,
        "received": order is not None,
        "order_status": order.get("order_status") if order else None,
        "version": order.get("version") if order else None,
        "received_at": order.get("received_at") if order else None,
        "all_events_published": order.get("all_events_published") if order else None,
        "published": order.get("events", []) if order else [],
        "quarantined": [
            {"id": q["id"], "received_at": q["received_at"], "reasons": q["reasons"]}
            for q in _visible_quarantine(view, seller)
        ],
    }


def _applied_versions(local: dict[str, Any], view: IngestView | Unreachable) -> dict[str, Any]:
    seen: dict[str, dict[str, Any]] = {}
    for event in local["events"]:
        entry = seen.setdefault(event["source"], {"last_version_seen": 0, "events": 0})
        entry["last_version_seen"] = max(entry["last_version_seen"], event["version"])
        entry["events"] += 1
    order, fulfillment = local["order"], local["fulfillment"]
    published = None
    if not isinstance(view, Unreachable) and view.order is not None:
        published = view.order.get("version")
    return {
        "ingest": {"published_version": published},
        "analytics": {
            "order_version_applied": order.version if order else None,
            "fulfillment_version_applied": fulfillment.version if fulfillment else None,
        },
        "seen_on_topics": seen,
    }


def _lag_part(group: str, partitions: list[PartitionLag], error: str | None) -> dict[str, Any]:
    return {
        "group": group,
        "total": sum(p.lag for p in partitions),
        "error": error,
        "partitions": [
            {
                "topic": p.topic,
                "partition": p.partition,
                "committed": p.committed,
                "end": p.end,
                "lag": p.lag,
            }
            for p in partitions
            if p.lag
        ],
    }
