"""SQL for the shipment confirmations pushed to Amazon: the ``shipment_confirmation`` view of
``amazon_submissions`` (``SubmissionRepository``), plus what only confirmations do."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from ingest.adapters import orm
from ingest.amazon.adapters.submission_repository import SubmissionRepository, c, t

KIND = "shipment_confirmation"


class ConfirmationRepository(SubmissionRepository):
    def __init__(self, session: AsyncSession) -> None:
        super().__init__(session, kind=KIND)

    async def add(self, **values: Any) -> bool:
        """Insert; False when this (shipment, version) is recorded already."""
        stmt = (
            insert(t)
            .values(kind=KIND, **values)
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

    async def claim_due(self, lease: timedelta, limit: int) -> list[Any]:
        """Lease due pending rows (other instances skip the locked ones): each one's next
        attempt moves past the lease, so a crash mid-send only delays it."""
        due = (
            select(c.id)
            .where(c.kind == KIND, c.status == "pending", c.next_attempt_at <= func.now())
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

    async def channel_of_order(self, amazon_order_id: str) -> str | None:
        """The order's fulfillment channel as intake stored it (None when unknown)."""
        o = orm.orders.c
        stmt = select(o.snapshot["fulfillment_channel"].astext).where(
            o.amazon_order_id == amazon_order_id
        )
        value: str | None = (await self.session.execute(stmt)).scalar_one_or_none()
        return value
