"""One database transaction per use case; the read models, the alerts and the outbox share it.

``UnitOfWork`` is what the service layer is written against (its repositories are the
``Protocol``s of ``repositories.py``); ``SqlUnitOfWork`` binds the SQL ones, and the tests'
``FakeUnitOfWork`` in-memory ones.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from analytics.adapters import orm
from analytics.adapters.repository import AlertRepository, ReadModels, Reads
from analytics.service_layer import repositories
from shared import unit_of_work


class UnitOfWork(unit_of_work.UnitOfWork):
    read_models: repositories.ReadModelWrites
    reads: repositories.Reads
    alerts: repositories.Alerts


class SqlUnitOfWork(unit_of_work.SqlUnitOfWork, UnitOfWork):
    outbox_table = orm.plumbing.outbox

    def _bind(self, session: AsyncSession) -> None:
        self.read_models = ReadModels(session)
        self.reads = Reads(session)
        self.alerts = AlertRepository(session)
