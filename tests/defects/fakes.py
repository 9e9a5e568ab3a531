"""Defects' unit of work in memory, for unit tests of the service layer: the repositories keep
domain objects in dictionaries (the same protocols as ``defects.adapters.repository``), the
outbox is a list of the CloudEvents committed, and ``commits`` counts the commits.

Like the real one, the unit of work keeps what was committed and drops the rest when it ends:
``_begin`` takes a copy of the stores, ``_rollback`` puts it back, ``_commit`` keeps the stores.
"""

from __future__ import annotations

import contextlib
import copy
import uuid
from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel

from defects.domain.evidence_files import EvidenceFile
from defects.domain.model import (
    Activity,
    CancellationFact,
    Claim,
    ClaimKind,
    Feedback,
    Money,
    OrderFacts,
    RefundFact,
    ShipmentFact,
    StoredEvidence,
)
from defects.domain.state_machine import OPEN_CLAIM_STATUSES
from shared.events.fulfillment import OrderCanceled, RefundIssued, Shipment
from shared.events.orders import OrderSnapshot
from shared.messaging.envelope import CloudEvent
from shared.topics import DEFECTS
from shared.unit_of_work import Queued, UnitOfWork

FactId = tuple[str, str, str]


@dataclass
class Store:
    """Everything the repositories hold; copied whole on begin, put back on rollback."""

    orders: dict[str, OrderSnapshot] = field(default_factory=dict)
    facts: dict[FactId, tuple[int, BaseModel]] = field(default_factory=dict)
    claims: dict[uuid.UUID, tuple[int, Claim]] = field(default_factory=dict)
    activity: list[tuple[uuid.UUID, Activity]] = field(default_factory=list)
    files: dict[uuid.UUID, tuple[uuid.UUID, StoredEvidence]] = field(default_factory=dict)
    feedback: dict[uuid.UUID, tuple[int, Feedback]] = field(default_factory=dict)
    seq: int = 0

    def next_seq(self) -> int:
        self.seq += 1
        return self.seq


class FakeOrders:
    def __init__(self, uow: FakeUnitOfWork) -> None:
        self.uow = uow

    async def apply_snapshots(self, snapshots: Sequence[OrderSnapshot]) -> int:
        stored = 0
        for order in snapshots:
            held = self.uow.store.orders.get(order.amazon_order_id)
            if held is None or held.version < order.version:
                self.uow.store.orders[order.amazon_order_id] = order
                stored += 1
        return stored

    async def apply_facts(self, facts: Sequence[tuple[FactId, int, BaseModel]]) -> int:
        stored = 0
        for fact_id, version, payload in facts:
            held = self.uow.store.facts.get(fact_id)
            if held is None or held[0] < version:
                self.uow.store.facts[fact_id] = (version, payload)
                stored += 1
        return stored

    async def facts(self, amazon_order_id: str, seller_id: str) -> OrderFacts:
        return (await self.facts_of([(amazon_order_id, seller_id)]))[(amazon_order_id, seller_id)]

    async def facts_of(self, keys: Iterable[tuple[str, str]]) -> dict[tuple[str, str], OrderFacts]:
        return {key: self._facts(*key) for key in set(keys)}

    def _facts(self, amazon_order_id: str, seller_id: str) -> OrderFacts:
        kept = [
            payload
            for (oid, _, _), (_, payload) in sorted(self.uow.store.facts.items())
            if oid == amazon_order_id and getattr(payload, "seller_id", None) == seller_id
        ]
        canceled = [_cancellation(p) for p in kept if isinstance(p, OrderCanceled)]
        common: dict[str, Any] = {
            "shipments": tuple(_shipment(p) for p in kept if isinstance(p, Shipment)),
            "refunds": tuple(_refund(p) for p in kept if isinstance(p, RefundIssued)),
            "cancellation": canceled[0] if canceled else None,
        }
        order = self.uow.store.orders.get(amazon_order_id)
        if order is None or order.seller_id != seller_id:
            return OrderFacts(amazon_order_id, seller_id, **common)
        return OrderFacts(
            amazon_order_id,
            seller_id,
            known=True,
            purchase_date=order.purchase_date,
            fulfillment_channel=order.fulfillment_channel,
            order_status=order.order_status,
            marketplace_id=order.marketplace_id,
            latest_ship_date=order.latest_ship_date,
            latest_delivery_date=order.latest_delivery_date,
            **common,
        )


def _shipment(s: Shipment) -> ShipmentFact:
    return ShipmentFact(
        shipment_id=s.shipment_id,
        carrier_code=s.carrier_code,
        tracking_number=s.tracking_number,
        ship_date=s.ship_date,
        on_time=s.on_time,
        is_buy_shipping=s.is_buy_shipping,
        valid_tracking=s.valid_tracking,
    )


def _refund(r: RefundIssued) -> RefundFact:
    return RefundFact(
        r.refund_id, r.reason, Money(r.total.amount, r.total.currency_code), r.refunded_at
    )


def _cancellation(c: OrderCanceled) -> CancellationFact:
    return CancellationFact(c.reason, c.canceled_by, c.buyer_requested, c.canceled_at)


class FakeClaims:
    def __init__(self, uow: FakeUnitOfWork) -> None:
        self.uow = uow

    async def add(self, claim: Claim) -> None:
        self.uow.store.claims[claim.id] = (self.uow.store.next_seq(), replace(claim))

    async def filed_before(
        self, *, seller_id: str, amazon_order_id: str, kind: ClaimKind, filed_at: datetime
    ) -> Claim | None:
        for _, claim in sorted(self.uow.store.claims.values(), key=lambda e: e[0]):
            if (claim.seller_id, claim.amazon_order_id, claim.kind, claim.filed_at) == (
                seller_id,
                amazon_order_id,
                kind,
                filed_at,
            ):
                return replace(claim)
        return None

    async def get(
        self, claim_id: uuid.UUID, *, seller_id: str | None, lock: bool = False
    ) -> Claim | None:
        held = self.uow.store.claims.get(claim_id)
        if held is None or seller_id not in (None, held[1].seller_id):
            return None
        return replace(held[1])

    async def save(self, claim: Claim) -> None:
        seq, _ = self.uow.store.claims[claim.id]
        self.uow.store.claims[claim.id] = (seq, replace(claim))

    async def add_activity(
        self,
        *,
        claim: Claim,
        at: datetime,
        action: str,
        from_status: str | None,
        text: str | None = None,
        details: dict[str, Any] | None = None,
    ) -> int:
        activity_id = len(self.uow.store.activity) + 1
        step = Activity(
            activity_id, at, action, from_status, claim.status, claim.version, text, details or {}
        )
        self.uow.store.activity.append((claim.id, step))
        return activity_id

    async def activity(self, claim_id: uuid.UUID) -> list[Activity]:
        return [a for cid, a in self.uow.store.activity if cid == claim_id]

    async def add_file(
        self, *, file_id: uuid.UUID, claim_id: uuid.UUID, activity_id: int, file: EvidenceFile
    ) -> None:
        stored = StoredEvidence(
            id=file_id,
            activity_id=activity_id,
            filename=file.filename,
            content_type=file.content_type,
            size_bytes=file.size,
            sha256=file.sha256,
            uploaded_at=datetime.now(UTC),
            content=file.content,
        )
        self.uow.store.files[file_id] = (claim_id, stored)

    async def files(self, claim_id: uuid.UUID) -> list[StoredEvidence]:
        return [replace(f, content=None) for c, f in self.uow.store.files.values() if c == claim_id]

    async def file(self, claim_id: uuid.UUID, file_id: uuid.UUID) -> StoredEvidence | None:
        held = self.uow.store.files.get(file_id)
        return held[1] if held and held[0] == claim_id else None

    async def page(
        self,
        *,
        seller_id: str | None,
        status: str | None,
        kind: str | None,
        amazon_order_id: str | None,
        due_before: datetime | None,
        after: tuple[datetime | None, int] | None,
        limit: int,
    ) -> list[tuple[Claim, int]]:
        found = [
            (replace(c), seq)
            for seq, c in self.uow.store.claims.values()
            if seller_id in (None, c.seller_id)
            and status in (None, c.status)
            and kind in (None, c.kind)
            and amazon_order_id in (None, c.amazon_order_id)
        ]
        if due_before is not None:
            found = [(c, s) for c, s in found if c.due_at is not None and c.due_at < due_before]
            found.sort(key=lambda e: (e[0].due_at, e[1]))
            if after is not None:
                found = [(c, s) for c, s in found if (c.due_at, s) > after]
        else:
            found.sort(key=lambda e: -e[1])
            if after is not None:
                found = [(c, s) for c, s in found if s < after[1]]
        return found[:limit]

    async def overdue_unflagged(self, now: datetime, limit: int) -> list[Claim]:
        due = [
            replace(c)
            for _, c in self.uow.store.claims.values()
            if c.due_at is not None and c.due_at < now and c.overdue_flagged_for != c.due_at
        ]
        return sorted(due, key=lambda c: c.due_at or now)[:limit]

    async def open_cases(self, seller_id: str | None, limit: int) -> list[Claim]:
        held = sorted(self.uow.store.claims.values(), key=lambda e: e[0])
        return [
            replace(c)
            for _, c in held
            if c.status in OPEN_CLAIM_STATUSES and seller_id in (None, c.seller_id)
        ][:limit]


class FakeFeedback:
    def __init__(self, uow: FakeUnitOfWork) -> None:
        self.uow = uow

    async def add(self, feedback: Feedback) -> None:
        self.uow.store.feedback[feedback.id] = (self.uow.store.next_seq(), replace(feedback))

    async def received_before(
        self, *, seller_id: str, amazon_order_id: str, received_at: datetime
    ) -> Feedback | None:
        for _, f in sorted(self.uow.store.feedback.values(), key=lambda e: e[0]):
            if (f.seller_id, f.amazon_order_id, f.received_at) == (
                seller_id,
                amazon_order_id,
                received_at,
            ):
                return replace(f)
        return None

    async def get(
        self, feedback_id: uuid.UUID, *, seller_id: str | None, lock: bool = False
    ) -> Feedback | None:
        held = self.uow.store.feedback.get(feedback_id)
        if held is None or seller_id not in (None, held[1].seller_id):
            return None
        return replace(held[1])

    async def save(self, feedback: Feedback) -> None:
        seq, _ = self.uow.store.feedback[feedback.id]
        self.uow.store.feedback[feedback.id] = (seq, replace(feedback))

    async def page(
        self,
        *,
        seller_id: str | None,
        amazon_order_id: str | None,
        status: str | None,
        negative_only: bool,
        before_seq: int | None,
        limit: int,
    ) -> list[tuple[Feedback, int]]:
        found = [
            (replace(f), seq)
            for seq, f in self.uow.store.feedback.values()
            if seller_id in (None, f.seller_id)
            and amazon_order_id in (None, f.amazon_order_id)
            and status in (None, f.status)
            and (f.is_negative or not negative_only)
            and (before_seq is None or seq < before_seq)
        ]
        return sorted(found, key=lambda e: -e[1])[:limit]

    async def open_negative(self, seller_id: str | None, limit: int) -> list[Feedback]:
        held = sorted(self.uow.store.feedback.values(), key=lambda e: e[0])
        return [
            replace(f)
            for _, f in held
            if f.is_negative
            and f.status in ("active", "removal_requested")
            and seller_id in (None, f.seller_id)
        ][:limit]


class FakeUnitOfWork(UnitOfWork):
    def __init__(self, *, topic: str = DEFECTS) -> None:
        super().__init__(topic=topic)
        self.store = Store()
        self.orders = FakeOrders(self)
        self.claims = FakeClaims(self)
        self.feedback = FakeFeedback(self)
        self.published: list[CloudEvent] = []  # the outbox: what was committed, in order
        self.commits = 0
        self._committed = copy.deepcopy(self.store)

    @property
    def event_types(self) -> list[str]:
        return [e.type for e in self.published]

    async def _begin(self) -> None:
        self._committed = copy.deepcopy(self.store)

    async def _write(self, queued: Sequence[Queued]) -> None:
        self._pending = [e for q in queued for e in q.events]

    async def _commit(self) -> None:
        self.published.extend(self._pending)
        self._pending = []
        self._committed = copy.deepcopy(self.store)
        self.commits += 1

    async def _rollback(self) -> None:
        self.store = copy.deepcopy(self._committed)

    @contextlib.asynccontextmanager
    async def _undoable(self, *, alone: bool) -> AsyncIterator[None]:
        kept = copy.deepcopy(self.store)
        try:
            yield
        except Exception:
            self.store = kept
            raise
