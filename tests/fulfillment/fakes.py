"""Fulfillment's unit of work in memory, for unit tests of the service layer (no I/O).

``FakeUnitOfWork`` keeps what was committed apart from what a unit of work is doing, so a
unit of work left without ``commit`` (or an ``attempt`` that raised) leaves nothing behind,
as the SQL one does. ``published`` lists the events committed to the outbox, in order;
``commits`` counts the commits.
"""

from __future__ import annotations

import contextlib
import copy
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

from fulfillment.domain.errors import ConcurrentInsert
from fulfillment.domain.model import Order
from fulfillment.domain.search import SearchFilters, SearchPage
from fulfillment.service_layer.unit_of_work import UnitOfWork
from shared.messaging.envelope import CloudEvent
from shared.unit_of_work import Queued

TOPIC = "fulfillment.v1"


@dataclass
class Store:
    """What the fake database holds."""

    orders: dict[str, Order] = field(default_factory=dict)
    uploads: dict[uuid.UUID, SimpleNamespace] = field(default_factory=dict)
    outbox: list[tuple[str, CloudEvent]] = field(default_factory=list)


class FakeOrderRepository:
    def __init__(self, store: Store) -> None:
        self.store = store
        self.inserted_elsewhere: set[str] = set()  # ids another transaction inserts first

    async def get(
        self, amazon_order_id: str, *, seller_id: str | None, lock: bool = False
    ) -> Order | None:
        order = self.store.orders.get(amazon_order_id)
        if order is None or (seller_id is not None and order.seller_id != seller_id):
            return None
        return order

    async def get_many(self, amazon_order_ids: Sequence[str], *, lock: bool) -> dict[str, Order]:
        held = sorted(set(amazon_order_ids) & set(self.store.orders))
        return {key: self.store.orders[key] for key in held}

    async def add_many(self, orders: Sequence[Order]) -> None:
        for order in orders:
            key = order.amazon_order_id
            if key in self.store.orders or key in self.inserted_elsewhere:
                raise ConcurrentInsert(key)
            self.store.orders[key] = order

    async def save(self, order: Order) -> None:
        await self.save_many([order])

    async def save_many(self, orders: Sequence[Order]) -> None:
        for order in orders:
            self.store.orders[order.amazon_order_id] = order

    async def with_tracking(self, seller_id: str, tracking_number: str) -> list[Order]:
        return [
            o
            for _, o in sorted(self.store.orders.items())
            if o.seller_id == seller_id
            and any(s.tracking_number == tracking_number for s in o.shipments)
        ]

    async def overdue_for_flagging(self, now: datetime, limit: int) -> list[Order]:
        due = [
            o
            for o in self.store.orders.values()
            if o.flagged_late_at is None
            and o.fulfillment_channel == "MFN"
            and o.status.value in ("Unshipped", "PartiallyShipped")
            and o.latest_ship_date is not None
            and o.latest_ship_date < now
        ]
        return sorted(due, key=lambda o: o.latest_ship_date or now)[:limit]

    async def search(self, filters: SearchFilters, page: SearchPage) -> list[Order]:
        """The filters a unit test uses (seller, dates, statuses, channel, flags), newest
        first."""
        f = filters
        found = [
            o
            for o in self.store.orders.values()
            if (f.seller_id is None or o.seller_id == f.seller_id)
            and (f.purchase_date_from is None or o.purchase_date >= f.purchase_date_from)
            and (f.purchase_date_to is None or o.purchase_date < f.purchase_date_to)
            and (f.amazon_order_id is None or o.amazon_order_id == f.amazon_order_id)
            and (not f.statuses or o.status.value in f.statuses)
            and o.status.value not in f.exclude_statuses
            and (f.fulfillment_channel is None or o.fulfillment_channel == f.fulfillment_channel)
            and (f.is_prime is None or o.is_prime == f.is_prime)
            and (f.is_business_order is None or o.is_business_order == f.is_business_order)
            and (f.is_replacement_order is None or o.is_replacement_order == f.is_replacement_order)
        ]
        found.sort(key=lambda o: (o.purchase_date, o.amazon_order_id), reverse=page.descending)
        return found[: page.limit]


class FakeUploadRepository:
    def __init__(self, store: Store) -> None:
        self.store = store

    async def add(self, **values: Any) -> bool:
        if await self.find_same(values["seller_id"], values["sha256"]) is not None:
            return False
        row = SimpleNamespace(
            status="queued",
            rows_processed=0,
            rows_accepted=0,
            rows_rejected=0,
            results=[],
            created_at=datetime.now(UTC),
            finished_at=None,
            **values,
        )
        self.store.uploads[row.id] = row
        return True

    async def find_same(self, seller_id: str, sha256: str) -> Any | None:
        same = (
            u for u in self.store.uploads.values() if (u.seller_id, u.sha256) == (seller_id, sha256)
        )
        return next(same, None)

    async def get(
        self, upload_id: uuid.UUID, *, seller_id: str | None, lock: bool = False
    ) -> Any | None:
        row = self.store.uploads.get(upload_id)
        if row is None or (seller_id is not None and row.seller_id != seller_id):
            return None
        return copy.copy(row)

    async def unfinished(self) -> list[uuid.UUID]:
        return [u.id for u in self.store.uploads.values() if u.status in ("queued", "processing")]

    async def progress(self, upload_id: uuid.UUID, **values: Any) -> None:
        vars(self.store.uploads[upload_id]).update(values)


class FakeUnitOfWork(UnitOfWork):
    def __init__(self, store: Store | None = None, *, topic: str = TOPIC) -> None:
        super().__init__(topic=topic)
        self.committed = store or Store()
        self.commits = 0
        self.inserted_elsewhere: set[str] = set()
        self._bind(copy.deepcopy(self.committed))

    def _bind(self, store: Store) -> None:
        self.working = store
        self.orders = FakeOrderRepository(store)
        self.orders.inserted_elsewhere = self.inserted_elsewhere
        self.uploads = FakeUploadRepository(store)

    @property
    def published(self) -> list[CloudEvent]:
        """The events committed to the outbox, in order."""
        return [event for _, event in self.committed.outbox]

    async def _begin(self) -> None:
        self._bind(copy.deepcopy(self.committed))

    async def _write(self, queued: Sequence[Queued]) -> None:
        self.working.outbox += [(q.topic, event) for q in queued for event in q.events]

    async def _commit(self) -> None:
        self.committed = self.working
        self.commits += 1
        self._bind(copy.deepcopy(self.committed))

    async def _rollback(self) -> None:
        self._bind(copy.deepcopy(self.committed))

    @contextlib.asynccontextmanager
    async def _undoable(self, *, alone: bool) -> AsyncIterator[None]:
        kept = copy.deepcopy(self.working)
        try:
            yield
        except Exception:
            self._bind(kept)
            raise


def joined(store: Store | None = None) -> FakeUnitOfWork:
    """A unit of work as the consumer runner gives a Kafka handler: already begun."""
    return FakeUnitOfWork(store)
