"""The order trace: "why is my order not showing?" across ingest, the topics and analytics.

Gathers what ingest holds (over REST), every event analytics consumed for the order, its dead
letters, the consumer lag and the seller's Amazon connections for the order's marketplace (all
of them when the marketplace is not known), then lets ``domain.diagnosis`` explain.

Tenancy is applied where the data is read, never by filtering an answer afterwards: for a
viewer narrowed to one seller (a seller key, or an ops or system key naming ``X-Seller-Id``)
every source is asked for that seller's rows only. Analytics' own tables are read with
``seller_id = viewer``; ingest and fulfillment are asked with ``X-Seller-Id: viewer``, so they
answer 404 for another seller's order as they would to that seller; dead letters, which carry
no seller column, count only when the payload names the viewer (or names no one and the order
is the viewer's). Another seller's order therefore gives the trace exactly the facts an id
nobody has gives it, and both raise the same ``NotThisSellersOrder`` (404). The one thing a
seller may hold under an order id of another seller is its own refused input: that input is
shown (ingest quarantined it under the seller who sent it), and nothing else of the order.
Connections are asked of ingest for the viewer (``X-Seller-Id``); the 404 of an order not
visible shows the viewer's own connections chosen by the marketplace the viewer asked for only
(never by the order's), so it is the same for another seller's order and for an unknown id.
Ops and system keys without ``X-Seller-Id`` see every trace, with the connections of the
order's seller when the order is known.
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NoReturn

from analytics.domain.amazon_connection import (
    AmazonConnection,
    ConnectionsSeen,
    connection_findings,
    reading,
)
from analytics.domain.diagnosis import Finding, KnownOrder, TraceFacts, diagnose
from analytics.domain.errors import NotThisSellersOrder
from analytics.service_layer.ports import (
    IngestPort,
    IngestView,
    LagPort,
    PartitionLag,
    PeersPort,
    Unreachable,
)
from analytics.service_layer.unit_of_work import UnitOfWork
from shared.messaging.envelope import seller_of

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TraceRequest:
    amazon_order_id: str
    viewer_seller: str | None
    marketplace_id: str | None
    now: datetime


@dataclass(frozen=True)
class TracePorts:
    ingest: IngestPort
    lag: LagPort
    group: str
    orders_topic: str
    lag_threshold: int
    peers: PeersPort | None = None


async def trace(uow: UnitOfWork, ask: TraceRequest, ports: TracePorts) -> dict[str, Any]:
    seller = ask.viewer_seller
    local = await _local(uow, ask.amazon_order_id, seller)
    at_ingest = await ports.ingest.view(ask.amazon_order_id, seller=seller)
    partitions, lag_error = await _lag(ports)
    owned = seller is None or _owned(local, at_ingest)
    local["dead_letters"] = [
        d for d in local["dead_letters"] if seller is None or _dead_letter_is(d, seller, owned)
    ]
    local["stuck"] = sum(1 for d in local["dead_letters"] if d["status"] == "dead")
    elsewhere = await _peer_dead_letters(ports, ask.amazon_order_id) if owned else {}
    facts = _facts(ask, ports, local, at_ingest, partitions, elsewhere)
    if seller is not None and not _visible(ask, facts, local):
        await _not_visible_to(ask, ports, seller)
    fulfillment = await _peer(ports, "fulfillment", ask.amazon_order_id, seller)
    marketplace = _marketplace_of(ask, facts, local, fulfillment)
    owner = seller or (facts.known.seller_id if facts.known else None)
    seen = await _connections(ports, owner, marketplace)
    if isinstance(seen, ConnectionsSeen):
        facts = dataclasses.replace(facts, connections=seen)
    findings = diagnose(facts)
    return {
        "amazon_order_id": ask.amazon_order_id,
        "as_of": ask.now,
        "ingest": _ingest_part(at_ingest, seller),
        "read_model": local["summary"],
        "events": [{k: v for k, v in e.items() if k != "seller_id"} for e in local["events"]],
        "services": {
            **_applied_versions(local, at_ingest),
            "fulfillment": fulfillment,
        },
        "dead_letters": [
            {k: v for k, v in d.items() if k != "seller_id"} for d in local["dead_letters"]
        ],
        "dead_letters_elsewhere": elsewhere,
        "consumer_lag": _lag_part(ports.group, partitions, lag_error),
        "connection": _connection_part(seen),
        "diagnosis": [f.__dict__ for f in findings],
    }


async def _not_visible_to(ask: TraceRequest, ports: TracePorts, seller: str) -> NoReturn:
    """Raise the one 404 of an order not visible to ``seller``: never received, and what the
    seller's own connections (for the marketplace asked, or all) tell of orders not read."""
    seen = await _connections(ports, seller, ask.marketplace_id)
    findings = [_not_visible(ask.amazon_order_id)]
    if isinstance(seen, ConnectionsSeen):
        findings += [f.__dict__ for f in connection_findings(seen, received=False)]
    raise NotThisSellersOrder(ask.amazon_order_id, findings, connection=_connection_part(seen))


async def _connections(
    ports: TracePorts, owner: str | None, marketplace: str | None
) -> ConnectionsSeen | Unreachable | None:
    """The owner's connections for the marketplace; None when the owner is not known."""
    if owner is None:
        return None
    every = await ports.ingest.connections(seller=owner)
    return every if isinstance(every, Unreachable) else reading(marketplace, every)


def _marketplace_of(
    ask: TraceRequest, facts: TraceFacts, local: dict[str, Any], peer: dict[str, Any] | None
) -> str | None:
    """The order's marketplace as ingest, analytics' read models or fulfillment hold it, else
    the one the viewer asked for."""
    held = [
        facts.at_ingest.marketplace_id if facts.at_ingest else None,
        facts.in_read_model.marketplace_id if facts.in_read_model else None,
        getattr(local["fulfillment"], "marketplace_id", None),
        (peer or {}).get("marketplace_id"),
        ask.marketplace_id,
    ]
    return next((m for m in held if m), None)


def _connection_part(seen: ConnectionsSeen | Unreachable | None) -> dict[str, Any] | None:
    if seen is None:
        return None
    if isinstance(seen, Unreachable):
        return {"reachable": False, "error": seen.reason}
    return {
        "reachable": True,
        "marketplace_id": seen.marketplace_id,
        "connections": [_connection_out(c) for c in seen.connections],
    }


def _connection_out(connection: AmazonConnection) -> dict[str, Any]:
    """JSON-ready as it is: the 404's problem body is not serialised by a response model."""
    synced = connection.last_sync_at
    return dataclasses.asdict(connection) | {"last_sync_at": synced.isoformat() if synced else None}


async def _peer(
    ports: TracePorts, name: str, order_id: str, seller: str | None
) -> dict[str, Any] | None:
    """The peer's own view of the order, when it is configured (never fails the trace)."""
    return None if ports.peers is None else await ports.peers.order(name, order_id, seller=seller)


async def _peer_dead_letters(ports: TracePorts, order_id: str) -> dict[str, Any]:
    """Other consumers' dead letters of the order, from those that answer. Dead letters carry
    no seller: the caller asks only for an order that is the viewer's (or for ops)."""
    if ports.peers is None:
        return {}
    found = {n: await ports.peers.dead_letters_of(n, order_id) for n in ports.peers.consumers}
    return {name: letters for name, letters in found.items() if letters is not None}


def _owned(local: dict[str, Any], view: IngestView | Unreachable) -> bool:
    """The order itself is the viewer's: ingest or analytics' read model holds it for the
    viewer. (The viewer's own events or cases under the id are not enough: a seller may file a
    claim on an order id that turns out to be another seller's.)"""
    at_ingest = not isinstance(view, Unreachable) and view.order is not None
    return at_ingest or bool(local["order"] or local["fulfillment"])


def _dead_letter_is(letter: dict[str, Any], seller: str, owned: bool) -> bool:
    """A dead letter is the viewer's when its payload names the viewer, or names nobody (it
    could not be read) and the order is the viewer's."""
    named = letter["seller_id"]
    return named == seller if named is not None else owned


def _visible(ask: TraceRequest, facts: TraceFacts, local: dict[str, Any]) -> bool:
    """Something of the order is this seller's: the order, its events or dead letters, or the
    input it sent that was refused. A foreign order reaching this point (a source that did not
    narrow to the seller) is treated as not visible: fail closed."""
    known = facts.known
    if known is not None and known.seller_id != ask.viewer_seller:
        log.error("a trace source answered another seller's order; answered as unknown")
        return False
    return (
        known is not None
        or bool(facts.quarantine_reasons)
        or bool(local["events"])
        or bool(local["dead_letters"])
    )


def _not_visible(amazon_order_id: str) -> dict[str, object]:
    return Finding(
        "never_received",
        f"No order {amazon_order_id} is visible under this seller account: check the order "
        "id, that it was sent (or synced from Amazon) at all, and that you are signed in to "
        "the seller account and region that sold it. An order sent a moment ago may still be "
        "on its way.",
    ).__dict__


async def _local(uow: UnitOfWork, order_id: str, seller: str | None) -> dict[str, Any]:
    """Analytics' own rows of the order; with ``seller``, that seller's rows only."""
    async with uow:
        reads = uow.reads
        order = await reads.order(order_id, seller)
        fulfillment = await reads.fulfillment_of(order_id, seller)
        events = await reads.events_of(order_id, seller)
        dead = await reads.dead_letters_of(order_id)
        cases = await reads.cases_of(order_id, seller)
        shipments = await reads.shipments_of(order_id, seller)
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
                "seller_id": e.seller_id,
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
                "seller_id": seller_of(d.payload),
            }
            for d in dead
        ],
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
            "is_replacement_order": order.is_replacement_order,
            "replaced_order_id": order.replaced_order_id,
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
