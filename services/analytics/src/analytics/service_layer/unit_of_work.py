"""One database transaction per use case; the read models and the outbox share it."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from analytics.adapters import orm
from analytics.adapters.repository import ReadModels
from shared.unit_of_work import SqlUnitOfWork


class UnitOfWork(SqlUnitOfWork):
    outbox_table = orm.plumbing.outbox

    def _bind(self, session: AsyncSession) -> None:
        self.read_models = ReadModels(session)
