"""Intake's repositories: SQL for orders, quarantine, uploads and ad rows, nothing else.

PostgreSQL refusing an order batch's statements (a constraint, a value out of range) is
translated here into ``StorageRefused``; a transient failure (the database is down) is left as
it is, for the caller's retry.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Coroutine
from typing import Any, ParamSpec, TypeVar

from sqlalchemy import any_, func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from ingest.adapters import orm
from ingest.intake.domain.errors import StorageRefused
from ingest.intake.domain.model import KnownOrder
from shared.db import bulk
from shared.errors import is_transient
from shared.uploads import UploadStore

_o = orm.orders.c
# Built once; the ids are given at execution (see shared.db.bulk.any_of).
_LOCK_MANY = (
    select(
        _o.amazon_order_id,
        _o.seller_id,
        _o.last_update_date,
        _o.version,
        _o.item_count,
        _o.snapshot,
    )
    .where(_o.amazon_order_id == any_(bulk.any_of()))
    .order_by(_o.amazon_order_id)
    .with_for_update()
)


P = ParamSpec("P")
R = TypeVar("R")


def _translated(
    call: Callable[P, Coroutine[Any, Any, R]],
) -> Callable[P, Coroutine[Any, Any, R]]:
    @functools.wraps(call)
    async def translated(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return await call(*args, **kwargs)
        except DBAPIError as exc:
            if is_transient(exc):
                raise
            raise StorageRefused(type(exc.orig).__name__) from exc

    return translated


class OrderRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    @_translated
    async def lock_many(self, ids: list[str]) -> dict[str, tuple[KnownOrder, dict[str, Any]]]:
        """The orders of ``ids`` that exist, locked (in id order: no deadlock between batches)."""
        if not ids:
            return {}
        rows = await self.session.execute(_LOCK_MANY, {"ids": ids})
        return {
            r.amazon_order_id: (
                KnownOrder(r.seller_id, r.last_update_date, r.version, r.item_count),
                r.snapshot,
            )
            for r in rows
        }

    @_translated
    async def insert_new(self, rows: list[dict[str, Any]]) -> set[str]:
        """Insert new orders; the ids inserted (a concurrent request may have been first).
        A row's ``snapshot`` is JSON text (the event's data, dumped once), as ``shared.db.bulk``
        takes JSONB."""
        return await bulk.insert_new(self.session, orm.orders, rows)

    @_translated
    async def update_many(self, rows: dict[str, dict[str, Any]]) -> None:
        """Replace the stored state of existing orders (one statement)."""
        await bulk.update_rows(
            self.session,
            orm.orders,
            [{"amazon_order_id": order_id, **row} for order_id, row in rows.items()],
            touch="updated_at",
        )

    async def get(self, amazon_order_id: str, seller_id: str | None) -> Any | None:
        stmt = select(orm.orders).where(orm.orders.c.amazon_order_id == amazon_order_id)
        if seller_id is not None:
            stmt = stmt.where(orm.orders.c.seller_id == seller_id)
        return (await self.session.execute(stmt)).first()

    async def events_of(self, amazon_order_id: str) -> list[Any]:
        o = orm.plumbing.outbox.c
        stmt = (
            select(
                o.event_id,
                o.event_type,
                o.topic,
                o.aggregate_version,
                o.created_at,
                o.sent_at,
                o.kafka_partition,
                o.kafka_offset,
            )
            .where(o.message_key == amazon_order_id, ~o.topic.like("%.dlq"))
            .order_by(o.id)
        )
        return list((await self.session.execute(stmt)).all())

    async def confirmations_of(self, amazon_order_id: str) -> list[Any]:
        """The shipment confirmations the gateway pushed to Amazon for this order (same
        database; read here so that the order's view needs nothing of the gateway's code)."""
        c = orm.amazon_submissions.c
        stmt = (
            select(orm.amazon_submissions)
            .where(c.amazon_order_id == amazon_order_id, c.kind == "shipment_confirmation")
            .order_by(c.created_at, c.version)
        )
        return list((await self.session.execute(stmt)).all())

    async def submissions_of(self, amazon_order_id: str) -> list[Any]:
        """Everything the gateway sent (or will send) to Amazon for this order, every kind."""
        c = orm.amazon_submissions.c
        stmt = (
            select(orm.amazon_submissions)
            .where(c.amazon_order_id == amazon_order_id)
            .order_by(c.created_at, c.version)
        )
        return list((await self.session.execute(stmt)).all())


class QuarantineRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, **values: Any) -> int:
        stmt = insert(orm.quarantine).values(**values).returning(orm.quarantine.c.id)
        return int((await self.session.execute(stmt)).scalar_one())

    async def page(
        self,
        *,
        seller_id: str | None,
        amazon_order_id: str | None,
        source: str | None,
        before_id: int | None,
        limit: int,
    ) -> list[Any]:
        q = orm.quarantine.c
        stmt = select(orm.quarantine).order_by(q.id.desc()).limit(limit)
        if seller_id is not None:
            stmt = stmt.where(q.seller_id == seller_id)
        if amazon_order_id:
            stmt = stmt.where(q.amazon_order_id == amazon_order_id)
        if source:
            stmt = stmt.where(q.source == source)
        if before_id is not None:
            stmt = stmt.where(q.id < before_id)
        return list((await self.session.execute(stmt)).all())


class UploadRepository(UploadStore):
    def __init__(self, session: AsyncSession) -> None:
        super().__init__(session, orm.uploads)


class AdRowRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def lock(self, subject: str) -> tuple[int, dict[str, Any]] | None:
        a = orm.ad_rows.c
        stmt = select(a.version, a.row).where(a.subject == subject).with_for_update()
        found = (await self.session.execute(stmt)).first()
        return (found.version, found.row) if found is not None else None

    async def add(self, *, subject: str, row: dict[str, Any], values: dict[str, Any]) -> None:
        await self.session.execute(
            insert(orm.ad_rows).values(subject=subject, version=1, row=row, **values)
        )

    async def restate(self, *, subject: str, version: int, row: dict[str, Any]) -> None:
        await self.session.execute(
            update(orm.ad_rows)
            .where(orm.ad_rows.c.subject == subject)
            .values(version=version, row=row, updated_at=func.now())
        )
