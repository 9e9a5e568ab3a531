"""SQL for the shipment confirmations pushed to Amazon, nothing else."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from ingest.adapters import orm

t = orm.amazon_shipment_confirmations
c = t.c
s = orm.spapi_connections.c


class ConfirmationRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, **values: Any) -> bool:
        """Insert; False when this (shipment, version) is recorded already."""
        stmt = (
            insert(t)
            .values(**values)
            .on_conflict_do_nothing(index_elements=["shipment_id", "version"])
            .returning(c.id)
        )
        return (await self.session.execute(stmt)).first() is not None

    async def supersede_older(self, shipment_id: str, version: int, reason: str) -> None:
        """Older versions of a shipment not sent yet: the newer one carries the whole state."""
        await self.session.execute(
            update(t)
            .where(c.shipment_id == shipment_id, c.version < version, c.status == "pending")
            .values(status="skipped", last_error=reason, updated_at=func.now())
        )

    async def newest_version(self, shipment_id: str) -> int | None:
        stmt = select(func.max(c.version)).where(c.shipment_id == shipment_id)
        value: int | None = (await self.session.execute(stmt)).scalar_one_or_none()
        return value

    async def get(
        self, confirmation_id: uuid.UUID, seller_id: str | None, *, lock: bool = False
    ) -> Any | None:
        stmt = select(t).where(c.id == confirmation_id)
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
        stmt = select(t).order_by(c.created_at, c.id).limit(limit)
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
            select(t).where(c.amazon_order_id == amazon_order_id).order_by(c.created_at, c.version)
        )
        return list((await self.session.execute(stmt)).all())

    async def claim_due(self, lease: timedelta, limit: int) -> list[Any]:
        """Lease due pending rows (other instances skip the locked ones): each one's next
        attempt moves past the lease, so a crash mid-send only delays it."""
        due = (
            select(c.id)
            .where(c.status == "pending", c.next_attempt_at <= func.now())
            .order_by(c.next_attempt_at, c.version)
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
        return sorted(rows, key=lambda r: (r.seller_id, r.created_at, r.version))

    async def finish(self, confirmation_id: uuid.UUID, **values: Any) -> bool:
        """Record an outcome of a row still pending; False when it changed meanwhile."""
        stmt = (
            update(t)
            .where(c.id == confirmation_id, c.status == "pending")
            .values(**values, updated_at=func.now())
            .returning(c.id)
        )
        return (await self.session.execute(stmt)).first() is not None

    async def update(self, confirmation_id: uuid.UUID, **values: Any) -> None:
        await self.session.execute(
            update(t).where(c.id == confirmation_id).values(**values, updated_at=func.now())
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

    async def channel_of_order(self, amazon_order_id: str) -> str | None:
        """The order's fulfillment channel as intake stored it (None when unknown)."""
        o = orm.orders.c
        stmt = select(o.snapshot["fulfillment_channel"].astext).where(
            o.amazon_order_id == amazon_order_id
        )
        value: str | None = (await self.session.execute(stmt)).scalar_one_or_none()
        return value
