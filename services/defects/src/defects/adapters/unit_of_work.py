"""Defects' unit of work on PostgreSQL: the SQL repositories on one session, the outbox in the
same transaction (``shared.unit_of_work.SqlUnitOfWork``); it is the service layer's
``UnitOfWork`` protocol."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from defects.adapters import orm
from defects.adapters.repository import ClaimRepository, FeedbackRepository, OrderRepository
from shared.unit_of_work import SqlUnitOfWork as BaseSqlUnitOfWork


class SqlUnitOfWork(BaseSqlUnitOfWork):
    outbox_table = orm.plumbing.outbox

    orders: OrderRepository
    claims: ClaimRepository
    feedback: FeedbackRepository

    def _bind(self, session: AsyncSession) -> None:
        self.orders = OrderRepository(session)
        self.claims = ClaimRepository(session)
        self.feedback = FeedbackRepository(session)
