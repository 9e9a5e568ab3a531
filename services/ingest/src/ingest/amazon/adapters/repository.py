"""SQL for SP-API connections and notifications, nothing else."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, delete, func, or_, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from ingest.adapters import orm

c = orm.spapi_connections.c


class ConnectionRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, **values: Any) -> bool:
        """Insert; False when this selling partner and region are already connected."""
        stmt = (
            insert(orm.spapi_connections)
            .values(**values)
            .on_conflict_do_nothing(index_elements=["selling_partner_id", "region"])
            .returning(c.id)
        )
        return (await self.session.execute(stmt)).first() is not None

    async def get(self, connection_id: uuid.UUID, seller_id: str | None) -> Any | None:
        stmt = select(orm.spapi_connections).where(c.id == connection_id)
        if seller_id is not None:
            stmt = stmt.where(c.seller_id == seller_id)
        return (await self.session.execute(stmt)).first()

    async def page(
        self, *, seller_id: str | None, after: tuple[datetime, uuid.UUID] | None, limit: int
    ) -> list[Any]:
        stmt = select(orm.spapi_connections).order_by(c.created_at, c.id).limit(limit)
        if seller_id is not None:
            stmt = stmt.where(c.seller_id == seller_id)
        if after is not None:
            at, last = after
            stmt = stmt.where(or_(c.created_at > at, and_(c.created_at == at, c.id > last)))
        return list((await self.session.execute(stmt)).all())

    async def update(self, connection_id: uuid.UUID, **values: Any) -> None:
        await self.session.execute(
            update(orm.spapi_connections)
            .where(c.id == connection_id)
            .values(**values, updated_at=func.now())
        )

    async def advance(self, connection_id: uuid.UUID, changed: int, **values: Any) -> None:
        """Record a committed page: progress values, and ``changed`` more orders synced."""
        await self.update(connection_id, **values, orders_synced=c.orders_synced + changed)

    async def delete(self, connection_id: uuid.UUID) -> None:
        await self.session.execute(delete(orm.spapi_connections).where(c.id == connection_id))

    async def of_selling_partner(self, selling_partner_id: str) -> list[Any]:
        stmt = (
            select(orm.spapi_connections)
            .where(c.selling_partner_id == selling_partner_id)
            .order_by(c.created_at)
        )
        return list((await self.session.execute(stmt)).all())

    async def claim_due(self, owner: str, lease: timedelta) -> Any | None:
        """Lease one active connection whose sync is due; other instances skip locked rows."""
        due = (
            select(c.id)
            .where(
                c.status == "active",
                c.next_sync_at <= func.now(),
                or_(c.lease_until.is_(None), c.lease_until < func.now()),
            )
            .order_by(c.next_sync_at)
            .limit(1)
            .with_for_update(skip_locked=True)
            .scalar_subquery()
        )
        stmt = (
            update(orm.spapi_connections)
            .where(c.id == due)
            .values(lease_owner=owner, lease_until=func.now() + lease)
            .returning(orm.spapi_connections)
        )
        return (await self.session.execute(stmt)).first()

    async def lock_lease(self, connection_id: uuid.UUID, owner: str) -> Any | None:
        """The connection, locked, unless another instance has claimed it since.

        An expired lease that nobody else claimed is still ours: only a new owner counts.
        """
        stmt = (
            select(orm.spapi_connections)
            .where(c.id == connection_id, c.lease_owner == owner)
            .with_for_update()
        )
        return (await self.session.execute(stmt)).first()

    async def renew_lease(self, connection_id: uuid.UUID, owner: str, lease: timedelta) -> None:
        await self.session.execute(
            update(orm.spapi_connections)
            .where(c.id == connection_id, c.lease_owner == owner)
            .values(lease_until=func.now() + lease)
        )

    async def release(self, connection_id: uuid.UUID, owner: str, **values: Any) -> None:
        await self.session.execute(
            update(orm.spapi_connections)
            .where(c.id == connection_id, c.lease_owner == owner)
            .values(**values, lease_owner=None, lease_until=None, updated_at=func.now())
        )


class NotificationRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def seen(self, notification_id: str) -> bool:
        n = orm.spapi_notifications.c
        stmt = select(n.notification_id).where(n.notification_id == notification_id)
        return (await self.session.execute(stmt)).first() is not None

    async def record(self, **values: Any) -> bool:
        """Insert; False when this NotificationId was already taken."""
        stmt = (
            insert(orm.spapi_notifications)
            .values(**values)
            .on_conflict_do_nothing(index_elements=["notification_id"])
            .returning(orm.spapi_notifications.c.notification_id)
        )
        return (await self.session.execute(stmt)).first() is not None
