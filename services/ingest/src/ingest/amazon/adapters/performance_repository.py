"""SQL for Amazon's seller performance reports (``amazon_performance_reports``), nothing else.

Rows are claimed the way every gateway job claims work: ``FOR UPDATE SKIP LOCKED`` plus a lease
(``next_check_at`` moved ahead), so several ingest instances never follow one report twice.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Text, cast, exists, insert, literal, select, update
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncSession

from ingest.adapters import orm

r = orm.amazon_performance_reports.c
c = orm.spapi_connections.c
OPEN = ("requesting", "requested")


class PerformanceReportRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def claim_due_connections(self, now: datetime, every: timedelta, limit: int) -> int:
        """A ``requesting`` row for each active connection without a report requested in the
        last ``every`` (its connection row locked, others' locks skipped); how many."""
        recent = exists().where(r.connection_id == c.id, r.requested_at > now - every)
        due = (
            select(c.id, c.seller_id, c.marketplace_ids)
            .where(c.status == "active", ~recent)
            .order_by(c.id)
            .limit(limit)
            .with_for_update(of=orm.spapi_connections, skip_locked=True)
        )
        rows = (await self.session.execute(due)).all()
        for row in rows:
            await self.session.execute(
                insert(orm.amazon_performance_reports).values(
                    seller_id=row.seller_id,
                    connection_id=row.id,
                    marketplace_ids=row.marketplace_ids,
                    status="requesting",
                    requested_at=now,
                    next_check_at=now,
                )
            )
        return len(rows)

    async def claim_open(self, now: datetime, lease: timedelta, limit: int) -> list[Any]:
        """Open reports whose check is due, leased for ``lease``, with their connection."""
        due = (
            select(r.id)
            .where(r.status.in_(OPEN), r.next_check_at <= now)
            .order_by(r.next_check_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
            .scalar_subquery()
        )
        claimed = (
            update(orm.amazon_performance_reports)
            .where(r.id.in_(due))
            .values(next_check_at=now + lease)
            .returning(orm.amazon_performance_reports)
        )
        return list((await self.session.execute(claimed)).all())

    async def update(self, report_row_id: int, **values: Any) -> None:
        """Change the row; a ``document`` is JSON text, stored as it is (JSONB keeps its
        numbers' digits, which Python's floats would not)."""
        if isinstance(values.get("document"), str):
            values["document"] = cast(literal(values["document"], Text), JSONB)
        await self.session.execute(
            update(orm.amazon_performance_reports).where(r.id == report_row_id).values(**values)
        )

    async def connection(self, connection_id: uuid.UUID) -> Any | None:
        """The connection, while it is active."""
        stmt = select(orm.spapi_connections).where(c.id == connection_id, c.status == "active")
        return (await self.session.execute(stmt)).first()

    async def of_seller(self, seller_id: str, limit: int) -> list[Any]:
        """The seller's newest report rows first."""
        stmt = (
            select(orm.amazon_performance_reports)
            .where(r.seller_id == seller_id)
            .order_by(r.id.desc())
            .limit(limit)
        )
        return list((await self.session.execute(stmt)).all())
