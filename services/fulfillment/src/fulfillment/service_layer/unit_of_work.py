"""Fulfillment's unit of work: its repositories, declared as ``Protocol``s, and the SQL one.

The service layer sees ``UnitOfWork`` (``uow.orders``, ``uow.uploads``, and the shared API:
``publish``, ``commit``, ``attempt``); ``SqlUnitOfWork`` binds the SQL repositories of
``adapters/repository.py`` to one session, and unit tests use an in-memory subclass. Service
layer functions never commit: whoever opened the unit of work (a router, a background job, the
consumer runner) commits it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

from fulfillment.adapters import orm
from fulfillment.adapters.repository import SqlOrderRepository, SqlUploadRepository
from fulfillment.domain.model import Order
from fulfillment.domain.search import SearchFilters, SearchPage
from shared import unit_of_work as base
from shared.uploads import Uploads as UploadRepository

if TYPE_CHECKING:  # the session is the adapters' business; named here for the types only
    from sqlalchemy.ext.asyncio import AsyncSession


class OrderRepository(Protocol):
    async def get(
        self, amazon_order_id: str, *, seller_id: str | None, lock: bool = False
    ) -> Order | None: ...

    async def get_many(
        self, amazon_order_ids: Sequence[str], *, lock: bool
    ) -> dict[str, Order]: ...

    async def add_many(self, orders: Sequence[Order]) -> None:
        """Insert new orders; raises ``ConcurrentInsert`` when one exists already."""

    async def save(self, order: Order) -> None: ...

    async def save_many(self, orders: Sequence[Order]) -> None: ...

    async def with_tracking(self, seller_id: str, tracking_number: str) -> list[Order]:
        """The seller's orders with a shipment of this tracking number, locked."""

    async def overdue_for_flagging(self, now: datetime, limit: int) -> list[Order]: ...

    async def search(self, filters: SearchFilters, page: SearchPage) -> list[Order]: ...


class UnitOfWork(base.UnitOfWork):
    """What the service layer is given."""

    orders: OrderRepository
    uploads: UploadRepository


class SqlUnitOfWork(UnitOfWork, base.SqlUnitOfWork):
    outbox_table = orm.plumbing.outbox

    def _bind(self, session: AsyncSession) -> None:
        self.orders = SqlOrderRepository(session)
        self.uploads = SqlUploadRepository(session)
