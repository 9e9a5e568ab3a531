"""Intake's unit of work: one transaction per use case; orders, quarantine, uploads and ad rows
share it with the outbox.

The repositories are ``Protocol``s: the SQL ones are in ``intake/adapters/repository.py``, the
unit tests' in-memory ones in ``tests/ingest/fakes.py``. This is the one service-layer module that
names the SQLAlchemy session: ``SqlIntakeUnitOfWork`` binds the SQL repositories to it.
"""

from __future__ import annotations

from typing import Any, Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from ingest.adapters import orm
from ingest.intake.adapters import repository
from ingest.intake.domain.model import KnownOrder
from shared.unit_of_work import SqlUnitOfWork, UnitOfWork
from shared.uploads import Uploads


class Orders(Protocol):
    async def lock_many(self, ids: list[str]) -> dict[str, tuple[KnownOrder, dict[str, Any]]]: ...

    async def insert_new(self, rows: list[dict[str, Any]]) -> set[str]:
        """The rows' ``snapshot``: JSON text; the ids inserted."""

    async def update_many(self, rows: dict[str, dict[str, Any]]) -> None:
        """The rows' ``snapshot``: JSON text."""

    async def get(self, amazon_order_id: str, seller_id: str | None) -> Any | None: ...

    async def events_of(self, amazon_order_id: str) -> list[Any]: ...

    async def confirmations_of(self, amazon_order_id: str) -> list[Any]: ...

    async def submissions_of(self, amazon_order_id: str) -> list[Any]: ...


class Quarantine(Protocol):
    async def add(self, **values: Any) -> int: ...

    async def page(
        self,
        *,
        seller_id: str | None,
        amazon_order_id: str | None,
        source: str | None,
        before_id: int | None,
        limit: int,
    ) -> list[Any]: ...


class AdRows(Protocol):
    async def lock(self, subject: str) -> tuple[int, dict[str, Any]] | None:
        """(version, row) of the stored row, locked; None when new."""

    async def add(self, *, subject: str, row: dict[str, Any], values: dict[str, Any]) -> None: ...

    async def restate(self, *, subject: str, version: int, row: dict[str, Any]) -> None: ...


class IntakeUnitOfWork(UnitOfWork):
    """What intake's handlers work with (the gateway's unit of work is one too)."""

    orders: Orders
    quarantine: Quarantine
    uploads: Uploads
    ad_rows: AdRows


class SqlIntakeUnitOfWork(SqlUnitOfWork, IntakeUnitOfWork):
    outbox_table = orm.plumbing.outbox

    def _bind(self, session: AsyncSession) -> None:
        self.orders = repository.OrderRepository(session)
        self.quarantine = repository.QuarantineRepository(session)
        self.uploads = repository.UploadRepository(session)
        self.ad_rows = repository.AdRowRepository(session)
