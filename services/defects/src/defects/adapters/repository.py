"""Defects' repositories: SQL for orders and their fulfillment facts, claims and feedback.

Rows are mapped to the domain's objects here and nowhere else.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from pydantic import BaseModel
from sqlalchemy import (
    Select,
    Table,
    and_,
    any_,
    func,
    or_,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from defects.adapters import orm
from defects.domain.evidence_files import EvidenceFile
from defects.domain.model import (
    Activity,
    AppealOutcome,
    CancellationFact,
    Claim,
    ClaimKind,
    ClaimReason,
    Decision,
    Feedback,
    Money,
    OrderFacts,
    RefundFact,
    ReturnFact,
    ShipmentFact,
    StoredEvidence,
)
from defects.domain.state_machine import (
    OPEN_CLAIM_STATUSES,
    OPEN_FEEDBACK_STATUSES,
    ClaimStatus,
    FeedbackStatus,
)
from shared.db import bulk
from shared.events.fulfillment import OrderCanceled, RefundIssued, ReturnEvent, Shipment
from shared.events.orders import OrderSnapshot

# Built once; the ids are given at execution (see shared.db.bulk.any_of).
_ORDERS_OF = select(orm.orders).where(orm.orders.c.amazon_order_id == any_(bulk.any_of()))
_FACTS_OF = (
    select(orm.fulfillment_facts)
    .where(orm.fulfillment_facts.c.amazon_order_id == any_(bulk.any_of()))
    .order_by(
        orm.fulfillment_facts.c.amazon_order_id,
        orm.fulfillment_facts.c.kind,
        orm.fulfillment_facts.c.fact_key,
    )
)


class OrderRepository:
    """Orders from orders.v1 and facts from fulfillment.v1, each kept only if newer."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def apply_snapshots(self, snapshots: Sequence[OrderSnapshot]) -> int:
        """Orders (one per order id at most), each stored only over an older version."""
        return await _store_newer(self.session, orm.orders, [_order_row(o) for o in snapshots])

    async def apply_facts(
        self, facts: Sequence[tuple[tuple[str, str, str], int, BaseModel]]
    ) -> int:
        """Facts (one per order, kind and key at most), each only over an older version."""
        rows = [_fact_row(fact_id, version, payload) for fact_id, version, payload in facts]
        return await _store_newer(self.session, orm.fulfillment_facts, rows)

    async def facts(self, amazon_order_id: str, seller_id: str) -> OrderFacts:
        found = await self.facts_of([(amazon_order_id, seller_id)])
        return found[(amazon_order_id, seller_id)]

    async def facts_of(self, keys: Iterable[tuple[str, str]]) -> dict[tuple[str, str], OrderFacts]:
        """Facts of many (order, seller) pairs in two queries; an order of another seller is
        never linked."""
        wanted = set(keys)
        ids = {oid for oid, _ in wanted}
        if not ids:
            return {}
        params = {"ids": list(ids)}
        order_rows = (await self.session.execute(_ORDERS_OF, params)).all()
        fact_rows = (await self.session.execute(_FACTS_OF, params)).all()
        orders_by = {(r.amazon_order_id, r.seller_id): r for r in order_rows}
        facts_by: dict[tuple[str, str], list[Any]] = {}
        for r in fact_rows:
            facts_by.setdefault((r.amazon_order_id, r.seller_id), []).append(r)
        return {k: _facts(k, orders_by.get(k), facts_by.get(k, [])) for k in wanted}


def _order_row(order: OrderSnapshot) -> dict[str, Any]:
    total = order.order_total
    return {
        "amazon_order_id": order.amazon_order_id,
        "seller_id": order.seller_id,
        "version": order.version,
        "purchase_date": order.purchase_date,
        "fulfillment_channel": order.fulfillment_channel,
        "order_status": order.order_status,
        "marketplace_id": order.marketplace_id,
        "order_total_amount": total.amount if total else None,
        "order_total_currency": total.currency_code if total else None,
        "ship_service_level": order.ship_service_level,
        "latest_ship_date": order.latest_ship_date,
        "earliest_delivery_date": order.earliest_delivery_date,
        "latest_delivery_date": order.latest_delivery_date,
    }


def _fact_row(fact_id: tuple[str, str, str], version: int, payload: Any) -> dict[str, Any]:
    amazon_order_id, kind, key = fact_id
    return {
        "amazon_order_id": amazon_order_id,
        "kind": kind,
        "fact_key": key,
        "seller_id": payload.seller_id,
        "version": version,
        "data": payload.model_dump_json(),  # straight to JSON text: no dict in between
    }


async def _store_newer(session: AsyncSession, table: Table, rows: Sequence[dict[str, Any]]) -> int:
    """Insert ``rows``; a row whose key is taken replaces the stored one only if its version is
    newer (``updated_at`` then set to now). How many rows were written. A key must not repeat;
    a JSONB value is given as JSON text. One statement whatever the number of rows."""
    return len(await bulk.upsert_newer(session, table, rows, touch="updated_at"))


def _money(amount: Any, currency: str | None) -> Money | None:
    return None if amount is None or currency is None else Money(amount, currency)


def _facts(key: tuple[str, str], order: Any, rows: list[Any]) -> OrderFacts:
    by_kind: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        by_kind.setdefault(r.kind, []).append(r.data)
    shipments = tuple(_shipment(Shipment.model_validate(d)) for d in by_kind.get("shipment", []))
    refunds = tuple(_refund(RefundIssued.model_validate(d)) for d in by_kind.get("refund", []))
    returns = tuple(_return(ReturnEvent.model_validate(d)) for d in by_kind.get("return", []))
    canceled = [OrderCanceled.model_validate(d) for d in by_kind.get("cancellation", [])]
    late = by_kind.get("ship_late", [])
    common: dict[str, Any] = {
        "shipments": tuple(sorted(shipments, key=lambda s: s.ship_date)),
        "refunds": tuple(sorted(refunds, key=lambda r: r.refunded_at)),
        "returns": returns,
        "cancellation": _cancellation(canceled[0]) if canceled else None,
        "ship_late_flagged_at": datetime.fromisoformat(late[0]["flagged_at"]) if late else None,
    }
    if order is None:
        return OrderFacts(key[0], key[1], **common)
    return OrderFacts(
        amazon_order_id=key[0],
        seller_id=key[1],
        known=True,
        purchase_date=order.purchase_date,
        fulfillment_channel=order.fulfillment_channel,
        order_status=order.order_status,
        marketplace_id=order.marketplace_id,
        order_total=_money(order.order_total_amount, order.order_total_currency),
        ship_service_level=order.ship_service_level,
        latest_ship_date=order.latest_ship_date,
        earliest_delivery_date=order.earliest_delivery_date,
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
        carrier_name=s.carrier_name,
        ship_method=s.ship_method,
        latest_ship_date=s.latest_ship_date,
        latest_delivery_date=s.latest_delivery_date,
    )


def _refund(r: RefundIssued) -> RefundFact:
    return RefundFact(
        r.refund_id, r.reason, Money(r.total.amount, r.total.currency_code), r.refunded_at
    )


def _return(r: ReturnEvent) -> ReturnFact:
    return ReturnFact(r.return_id, r.rma_id, r.reason, r.authorized_at, r.received_at)


def _cancellation(c: OrderCanceled) -> CancellationFact:
    return CancellationFact(c.reason, c.canceled_by, c.buyer_requested, c.canceled_at)


# --- claims -----------------------------------------------------------------------------------

_CLAIM_FIELDS = (
    "seller_id",
    "amazon_order_id",
    "kind",
    "reason",
    "filed_at",
    "status",
    "version",
    "decision",
    "decided_at",
    "information_requested_at",
    "responded_at",
    "appealed_at",
    "appeal_outcome",
    "appeal_decided_at",
    "due_at",
    "overdue_flagged_for",
)


def _claim_values(claim: Claim) -> dict[str, Any]:
    values = {name: getattr(claim, name) for name in _CLAIM_FIELDS}
    values["amount"] = claim.amount.amount if claim.amount else None
    values["currency_code"] = claim.amount.currency_code if claim.amount else None
    return values


def _claim_of(row: Any) -> Claim:
    return Claim(
        id=row.id,
        seller_id=row.seller_id,
        amazon_order_id=row.amazon_order_id,
        kind=ClaimKind(row.kind),
        reason=ClaimReason(row.reason),
        amount=_money(row.amount, row.currency_code),
        filed_at=row.filed_at,
        status=ClaimStatus(row.status),
        version=row.version,
        decision=Decision(row.decision) if row.decision else None,
        decided_at=row.decided_at,
        information_requested_at=row.information_requested_at,
        responded_at=row.responded_at,
        appealed_at=row.appealed_at,
        appeal_outcome=AppealOutcome(row.appeal_outcome) if row.appeal_outcome else None,
        appeal_decided_at=row.appeal_decided_at,
        due_at=row.due_at,
        overdue_flagged_for=row.overdue_flagged_for,
    )


def _evidence(row: Any, content: bytes | None = None) -> StoredEvidence:
    return StoredEvidence(
        id=row.id,
        activity_id=row.activity_id,
        filename=row.filename,
        content_type=row.content_type,
        size_bytes=row.size_bytes,
        sha256=row.sha256,
        uploaded_at=row.uploaded_at,
        content=content,
    )


async def _take_turns(session: AsyncSession, *key: str) -> None:
    """Until the transaction ends, hold a lock on ``key``: two requests recording the same
    thing at once take turns, and the second finds what the first wrote. (An advisory lock:
    the order may not be known here yet, so there is no row to lock.)"""
    await session.execute(
        select(func.pg_advisory_xact_lock(func.hashtextextended("/".join(key), 0)))
    )


async def _recorded_before(session: AsyncSession, table: Table, **match: Any) -> Any | None:
    """The first row of ``table`` matching every column given, once this seller's order's
    turn is held (``_take_turns``) for the rest of the transaction."""
    await _take_turns(session, table.name, match["seller_id"], match["amazon_order_id"])
    stmt = select(table).where(*(table.c[name] == value for name, value in match.items()))
    return (await session.execute(stmt.order_by(table.c.seq).limit(1))).first()


class ClaimRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, claim: Claim) -> None:
        await self.session.execute(insert(orm.claims).values(id=claim.id, **_claim_values(claim)))

    async def filed_before(
        self, *, seller_id: str, amazon_order_id: str, kind: ClaimKind, filed_at: datetime
    ) -> Claim | None:
        """The case already filed for this order, of this kind, at this time, if any; until the
        transaction ends, another filing for the order waits for this one."""
        row = await _recorded_before(
            self.session,
            orm.claims,
            seller_id=seller_id,
            amazon_order_id=amazon_order_id,
            kind=kind,
            filed_at=filed_at,
        )
        return None if row is None else _claim_of(row)

    async def get(
        self, claim_id: uuid.UUID, *, seller_id: str | None, lock: bool = False
    ) -> Claim | None:
        c = orm.claims.c
        stmt = select(orm.claims).where(c.id == claim_id)
        if seller_id is not None:
            stmt = stmt.where(c.seller_id == seller_id)
        if lock:
            stmt = stmt.with_for_update()
        row = (await self.session.execute(stmt)).first()
        return None if row is None else _claim_of(row)

    async def save(self, claim: Claim) -> None:
        await self.session.execute(
            update(orm.claims)
            .where(orm.claims.c.id == claim.id)
            .values(**_claim_values(claim), updated_at=func.now())
        )

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
        stmt = (
            insert(orm.claim_activity)
            .values(
                claim_id=claim.id,
                at=at,
                action=action,
                from_status=from_status,
                to_status=claim.status,
                version=claim.version,
                text=text,
                details=details or {},
            )
            .returning(orm.claim_activity.c.id)
        )
        return int((await self.session.execute(stmt)).scalar_one())

    async def activity(self, claim_id: uuid.UUID) -> list[Activity]:
        a = orm.claim_activity.c
        stmt = select(orm.claim_activity).where(a.claim_id == claim_id).order_by(a.id)
        return [
            Activity(
                id=r.id,
                at=r.at,
                action=r.action,
                from_status=r.from_status,
                to_status=r.to_status,
                version=r.version,
                text=r.text,
                details=r.details,
            )
            for r in (await self.session.execute(stmt)).all()
        ]

    async def add_file(
        self, *, file_id: uuid.UUID, claim_id: uuid.UUID, activity_id: int, file: EvidenceFile
    ) -> None:
        await self.session.execute(
            insert(orm.evidence_files).values(
                id=file_id,
                claim_id=claim_id,
                activity_id=activity_id,
                filename=file.filename,
                content_type=file.content_type,
                size_bytes=file.size,
                sha256=file.sha256,
                content=file.content,
            )
        )

    async def files(self, claim_id: uuid.UUID) -> list[StoredEvidence]:
        e = orm.evidence_files.c
        stmt = (
            select(
                e.id,
                e.activity_id,
                e.filename,
                e.content_type,
                e.size_bytes,
                e.sha256,
                e.uploaded_at,
            )
            .where(e.claim_id == claim_id)
            .order_by(e.uploaded_at, e.filename)
        )
        return [_evidence(r) for r in (await self.session.execute(stmt)).all()]

    async def file(self, claim_id: uuid.UUID, file_id: uuid.UUID) -> StoredEvidence | None:
        e = orm.evidence_files.c
        stmt = select(orm.evidence_files).where(e.claim_id == claim_id, e.id == file_id)
        row = (await self.session.execute(stmt)).first()
        return None if row is None else _evidence(row, content=row.content)

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
        """Newest first; with ``due_before``, most urgent (earliest due) first."""
        c = orm.claims.c
        stmt: Select[Any] = select(orm.claims).limit(limit)
        if seller_id is not None:
            stmt = stmt.where(c.seller_id == seller_id)
        if status:
            stmt = stmt.where(c.status == status)
        if kind:
            stmt = stmt.where(c.kind == kind)
        if amazon_order_id:
            stmt = stmt.where(c.amazon_order_id == amazon_order_id)
        if due_before is not None:
            stmt = stmt.where(c.due_at < due_before).order_by(c.due_at, c.seq)
            if after is not None:
                due, seq = after
                stmt = stmt.where(or_(c.due_at > due, and_(c.due_at == due, c.seq > seq)))
        else:
            stmt = stmt.order_by(c.seq.desc())
            if after is not None:
                stmt = stmt.where(c.seq < after[1])
        return [(_claim_of(r), r.seq) for r in (await self.session.execute(stmt)).all()]

    async def overdue_unflagged(self, now: datetime, limit: int) -> list[Claim]:
        """Claims past their due time whose current deadline is not flagged yet, locked."""
        c = orm.claims.c
        stmt = (
            select(orm.claims)
            .where(
                c.due_at < now,
                or_(c.overdue_flagged_for.is_(None), c.overdue_flagged_for != c.due_at),
            )
            .order_by(c.due_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        return [_claim_of(r) for r in (await self.session.execute(stmt)).all()]

    async def open_cases(self, seller_id: str | None, limit: int) -> list[Claim]:
        c = orm.claims.c
        stmt = (
            select(orm.claims)
            .where(c.status.in_([s.value for s in OPEN_CLAIM_STATUSES]))
            .order_by(c.seq)
            .limit(limit)
        )
        if seller_id is not None:
            stmt = stmt.where(c.seller_id == seller_id)
        return [_claim_of(r) for r in (await self.session.execute(stmt)).all()]


# --- feedback ---------------------------------------------------------------------------------

_FEEDBACK_FIELDS = (
    "seller_id",
    "amazon_order_id",
    "rating",
    "comment",
    "received_at",
    "status",
    "version",
    "removal_reason",
    "removal_requested_at",
    "removal_outcome_at",
    "removed_at",
)


def _feedback_of(row: Any) -> Feedback:
    return Feedback(
        id=row.id,
        seller_id=row.seller_id,
        amazon_order_id=row.amazon_order_id,
        rating=row.rating,
        comment=row.comment,
        received_at=row.received_at,
        status=FeedbackStatus(row.status),
        version=row.version,
        removal_reason=row.removal_reason,
        removal_requested_at=row.removal_requested_at,
        removal_outcome_at=row.removal_outcome_at,
        removed_at=row.removed_at,
    )


class FeedbackRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, feedback: Feedback) -> None:
        values = {name: getattr(feedback, name) for name in _FEEDBACK_FIELDS}
        await self.session.execute(insert(orm.feedback).values(id=feedback.id, **values))

    async def received_before(
        self, *, seller_id: str, amazon_order_id: str, received_at: datetime
    ) -> Feedback | None:
        """The feedback already recorded for this order as received at this time, if any;
        until the transaction ends, other feedback for the order waits for this one."""
        row = await _recorded_before(
            self.session,
            orm.feedback,
            seller_id=seller_id,
            amazon_order_id=amazon_order_id,
            received_at=received_at,
        )
        return None if row is None else _feedback_of(row)

    async def get(
        self, feedback_id: uuid.UUID, *, seller_id: str | None, lock: bool = False
    ) -> Feedback | None:
        f = orm.feedback.c
        stmt = select(orm.feedback).where(f.id == feedback_id)
        if seller_id is not None:
            stmt = stmt.where(f.seller_id == seller_id)
        if lock:
            stmt = stmt.with_for_update()
        row = (await self.session.execute(stmt)).first()
        return None if row is None else _feedback_of(row)

    async def save(self, feedback: Feedback) -> None:
        values = {name: getattr(feedback, name) for name in _FEEDBACK_FIELDS}
        await self.session.execute(
            update(orm.feedback)
            .where(orm.feedback.c.id == feedback.id)
            .values(**values, updated_at=func.now())
        )

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
        f = orm.feedback.c
        stmt = select(orm.feedback).order_by(f.seq.desc()).limit(limit)
        if seller_id is not None:
            stmt = stmt.where(f.seller_id == seller_id)
        if amazon_order_id:
            stmt = stmt.where(f.amazon_order_id == amazon_order_id)
        if status:
            stmt = stmt.where(f.status == status)
        if negative_only:
            stmt = stmt.where(f.rating <= 2)
        if before_seq is not None:
            stmt = stmt.where(f.seq < before_seq)
        return [(_feedback_of(r), r.seq) for r in (await self.session.execute(stmt)).all()]

    async def open_negative(self, seller_id: str | None, limit: int) -> list[Feedback]:
        f = orm.feedback.c
        stmt = (
            select(orm.feedback)
            .where(f.rating <= 2, f.status.in_([s.value for s in OPEN_FEEDBACK_STATUSES]))
            .order_by(f.seq)
            .limit(limit)
        )
        if seller_id is not None:
            stmt = stmt.where(f.seller_id == seller_id)
        return [_feedback_of(r) for r in (await self.session.execute(stmt)).all()]
