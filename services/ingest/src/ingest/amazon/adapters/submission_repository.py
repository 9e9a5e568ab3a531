"""SQL for everything sent to Amazon (``amazon_submissions``), nothing else.

``SubmissionRepository(session, kind=...)`` sees one kind only (the shipment confirmations'
repository is such a view); without a kind it sees every row.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, func, or_, select, text, true, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from ingest.adapters import orm

t = orm.amazon_submissions
c = t.c
s = orm.spapi_connections.c


class SubmissionRepository:
    def __init__(self, session: AsyncSession, *, kind: str | None = None) -> None:
        self.session = session
        self.kind = kind

    def _mine(self) -> ColumnElement[bool]:
        return c.kind == self.kind if self.kind is not None else true()

    async def add_referenced(self, **values: Any) -> bool:
        """Insert a row answering a fulfillment reference; False when (kind, seller,
        reference) is recorded already (the same refund announced twice)."""
        stmt = (
            insert(t)
            .values(**values)
            .on_conflict_do_nothing(
                index_elements=["kind", "seller_id", "reference"],
                index_where=text("reference IS NOT NULL"),
            )
            .returning(c.id)
        )
        return (await self.session.execute(stmt)).first() is not None

    async def get(
        self, submission_id: uuid.UUID, seller_id: str | None, /, *, lock: bool = False
    ) -> Any | None:
        stmt = select(t).where(c.id == submission_id, self._mine())
        if seller_id is not None:
            stmt = stmt.where(c.seller_id == seller_id)
        if lock:
            stmt = stmt.with_for_update()
        return (await self.session.execute(stmt)).first()

    async def page(
        self,
        *,
        seller_id: str | None,
        status: str | None,
        amazon_order_id: str | None,
        after: tuple[datetime, uuid.UUID] | None,
        limit: int,
    ) -> list[Any]:
        stmt = select(t).where(self._mine()).order_by(c.created_at, c.id).limit(limit)
        if seller_id is not None:
            stmt = stmt.where(c.seller_id == seller_id)
        if status is not None:
            stmt = stmt.where(c.status == status)
        if amazon_order_id is not None:
            stmt = stmt.where(c.amazon_order_id == amazon_order_id)
        if after is not None:
            at, last = after
            stmt = stmt.where(or_(c.created_at > at, and_(c.created_at == at, c.id > last)))
        return list((await self.session.execute(stmt)).all())

    async def of_order(self, amazon_order_id: str) -> list[Any]:
        stmt = (
            select(t)
            .where(c.amazon_order_id == amazon_order_id, self._mine())
            .order_by(c.created_at, c.version)
        )
        return list((await self.session.execute(stmt)).all())

    async def finish(
        self, submission_id: uuid.UUID, /, *, expected: str = "pending", **values: Any
    ) -> bool:
        """Record an outcome of a row still ``expected``; False when it changed meanwhile."""
        stmt = (
            update(t)
            .where(c.id == submission_id, c.status == expected)
            .values(**values, updated_at=func.now())
            .returning(c.id)
        )
        return (await self.session.execute(stmt)).first() is not None

    async def update(self, submission_id: uuid.UUID, /, **values: Any) -> None:
        await self.session.execute(
            update(t).where(c.id == submission_id).values(**values, updated_at=func.now())
        )

    async def active_connection(self, seller_id: str, marketplace_id: str | None) -> Any | None:
        """The seller's active connection for this marketplace (else any active one)."""
        stmt = (
            select(orm.spapi_connections)
            .where(s.seller_id == seller_id, s.status == "active")
            .order_by(s.created_at)
        )
        rows = list((await self.session.execute(stmt)).all())
        for row in rows:
            if marketplace_id and marketplace_id in (row.marketplace_ids or []):
                return row
        return rows[0] if rows else None

    async def order_snapshot(self, amazon_order_id: str) -> dict[str, Any]:
        """The order as intake stored it (its channel, marketplace, items); empty when
        unknown."""
        o = orm.orders.c
        stmt = select(o.snapshot).where(o.amazon_order_id == amazon_order_id)
        snapshot: dict[str, Any] | None = (await self.session.execute(stmt)).scalar_one_or_none()
        return snapshot or {}

    # -- feed messages ---------------------------------------------------------------------

    async def waiting(self) -> list[Any]:
        """Per (seller, marketplace, feed type): how many feed messages are due, since when
        (``next_attempt_at``: when a row became pending, or its back-off ended)."""
        stmt = (
            select(
                c.seller_id,
                c.marketplace_id,
                c.feed_type,
                func.count().label("count"),
                func.min(c.next_attempt_at).label("oldest"),
                func.now().label("now"),
            )
            .where(c.status == "pending", c.feed_type.isnot(None), c.next_attempt_at <= func.now())
            .group_by(c.seller_id, c.marketplace_id, c.feed_type)
        )
        return list((await self.session.execute(stmt)).all())

    async def claim_batch(
        self, *, seller_id: str, marketplace_id: str, feed_type: str, lease: timedelta, limit: int
    ) -> list[Any]:
        """Lease up to ``limit`` due messages of one feed (other instances skip the locked
        ones); a crash before they are marked submitted only delays them by the lease."""
        due = (
            select(c.id)
            .where(
                c.status == "pending",
                c.seller_id == seller_id,
                c.marketplace_id == marketplace_id,
                c.feed_type == feed_type,
                c.next_attempt_at <= func.now(),
            )
            .order_by(c.next_attempt_at, c.created_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        stmt = (
            update(t)
            .where(c.id.in_(due.scalar_subquery()))
            .values(next_attempt_at=func.now() + lease, attempts=c.attempts + 1)
            .returning(t)
        )
        rows = list((await self.session.execute(stmt)).all())
        return sorted(rows, key=lambda r: (r.created_at, r.id))

    async def submitted_feeds(self) -> list[Any]:
        """The feeds with messages still waiting for their processing report."""
        stmt = (
            select(c.feed_id, c.seller_id, c.marketplace_id)
            .where(c.status == "submitted")
            .distinct()
        )
        return list((await self.session.execute(stmt)).all())

    async def of_feed(self, feed_id: str) -> list[Any]:
        stmt = select(t).where(c.feed_id == feed_id, c.status == "submitted").order_by(c.message_id)
        return list((await self.session.execute(stmt)).all())
