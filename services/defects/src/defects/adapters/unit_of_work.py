"""Defects' unit of work on PostgreSQL: the SQL repositories on one session, the outbox in the
same transaction (``shared.unit_of_work.SqlUnitOfWork``)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from defects.adapters import orm
from defects.adapters.repository import ClaimRepository, FeedbackRepository, OrderRepository
from defects.service_layer.unit_of_work import UnitOfWork
from shared.unit_of_work import SqlUnitOfWork as BaseSqlUnitOfWork


class SqlUnitOfWork(UnitOfWork, BaseSqlUnitOfWork):
    outbox_table = orm.plumbing.outbox

    def _bind(self, session: AsyncSession) -> None:
        self.orders = OrderRepository(session)
        self.claims = ClaimRepository(session)
        self.feedback = FeedbackRepository(session)
