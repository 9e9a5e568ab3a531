"""Analytics' repositories: SQL for the read models, nothing else.

Every upsert is guarded by the version it carries: a row is replaced only by a newer version,
so repeated and out-of-order events leave the newest state in place.
"""

from __future__ import annotations

import functools
from collections.abc import Collection, Iterable, Sequence
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import (
    Table,
    and_,
    any_,
    delete,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from analytics.adapters import daily_ads, daily_sales, delivery, health_days, health_orders, orm
from analytics.domain.errors import AlertRaced
from analytics.domain.metrics import (
    CANCEL_DAYS,
    CHANNELS,
    DEFECT_KINDS,
    LSR_DAYS,
    ODR_DAYS,
    OTD_DAYS,
    VTR_DAYS,
    DeliveryCounts,
    HealthCounts,
    Ratio,
)
from analytics.domain.model import Alert
from analytics.service_layer.repositories import (
    HealthDayFigures,
    HealthDayKey,
    SalesFigures,
    SalesKey,
)
from shared.db import bulk

FULFILLMENT_DATES = ("purchase_date", "latest_ship_date", "canceled_at", "ship_late_at")

# Built once (per table); the ids are given at execution (see shared.db.bulk.any_of).
_DELETE_ITEMS = delete(orm.order_items).where(
    orm.order_items.c.amazon_order_id == any_(bulk.any_of())
)


@functools.cache
def _versions_statement(table: Table, key: str) -> Any:
    c = table.c
    return (
        select(c[key], c.version)
        .where(c[key] == any_(bulk.any_of()))
        .order_by(c[key])
        .with_for_update()
    )


class ReadModels:
    """Writes of the projections (one consumer transaction); implements
    ``service_layer.repositories.ReadModelWrites``."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def order_versions(self, ids: Iterable[str]) -> dict[str, int]:
        """The versions held for the orders ``ids`` (rows locked, in id order); absent ids are
        new."""
        stmt = _versions_statement(orm.orders, "amazon_order_id")
        return {k: v for k, v in await self.session.execute(stmt, {"ids": list(ids)})}

    async def upsert_orders(self, rows: Sequence[dict[str, Any]]) -> set[str]:
        """Each order inserted, or replacing the stored one when its ``version`` is newer (one
        statement; one row per order); the ids that were applied."""
        return await self._upsert_newer_many(orm.orders, "amazon_order_id", rows)

    async def upsert_shipment(self, values: dict[str, Any]) -> bool:
        return await self._upsert_newer(orm.shipments, "shipment_id", values)

    async def upsert_case(self, values: dict[str, Any]) -> bool:
        return await self._upsert_newer(orm.defect_cases, "case_id", values)

    async def upsert_ad_row(self, values: dict[str, Any]) -> bool:
        return await self._upsert_newer(orm.ad_performance, "subject", values)

    async def upsert_amazon_health(self, values: dict[str, Any]) -> bool:
        return await self._upsert_newer(orm.amazon_account_health, "subject", values)

    async def _upsert_newer(self, table: Table, key: str, values: dict[str, Any]) -> bool:
        """Insert, or replace when ``values['version']`` is newer; True when it was applied."""
        return values[key] in await self._upsert_newer_many(table, key, [values])

    async def _upsert_newer_many(
        self, table: Table, key: str, rows: Sequence[dict[str, Any]]
    ) -> set[str]:
        assert [c.name for c in table.primary_key.columns] == [key]
        return {row[0] for row in await bulk.upsert_newer(self.session, table, rows)}

    async def replace_items(
        self, held_ids: Collection[str], items: Sequence[dict[str, Any]]
    ) -> None:
        """The items of the orders in ``held_ids`` (stored before) are deleted and ``items``
        inserted (one statement each). An order stored for the first time has no items to
        delete, so no delete looks for them."""
        if held_ids:
            await self.session.execute(_DELETE_ITEMS, {"ids": list(held_ids)})
        await bulk.insert_rows(self.session, orm.order_items, items)

    async def lock_orders(self, ids: Collection[str]) -> None:
        await self.session.execute(daily_sales.LOCK_ORDERS, {"ids": sorted(ids)})

    async def refresh_health(self, ids: Collection[str]) -> None:
        await self.session.execute(health_orders.REFRESH, {"ids": sorted(ids)})

    async def health_contributions(
        self, ids: Collection[str]
    ) -> dict[HealthDayKey, HealthDayFigures]:
        rows = await self.session.execute(health_days.CONTRIBUTIONS, {"ids": sorted(ids)})
        width = len(health_days.KEY)
        return {tuple(r[:width]): tuple(r[width:]) for r in rows}

    async def add_to_health_days(self, figures: dict[HealthDayKey, HealthDayFigures]) -> None:
        if figures:
            await self.session.execute(health_days.ADD, health_days.as_rows(figures))

    async def sales_contributions(self, ids: Collection[str]) -> dict[SalesKey, SalesFigures]:
        rows = await self.session.execute(daily_sales.CONTRIBUTIONS, {"ids": sorted(ids)})
        return {tuple(r[:6]): tuple(r[6:]) for r in rows}

    async def add_to_daily_sales(self, figures: dict[SalesKey, SalesFigures]) -> None:
        if figures:
            await self.session.execute(daily_sales.ADD, daily_sales.as_rows(figures))

    async def lock_ads_of(self, subjects: Collection[str]) -> None:
        await self.session.execute(daily_ads.LOCK_SUBJECTS, {"subjects": sorted(subjects)})

    async def ad_contributions(self, subjects: Collection[str]) -> dict[SalesKey, SalesFigures]:
        rows = await self.session.execute(daily_ads.CONTRIBUTIONS, {"subjects": sorted(subjects)})
        return {tuple(r[:6]): tuple(r[6:]) for r in rows}

    async def add_to_daily_ads(self, figures: dict[SalesKey, SalesFigures]) -> None:
        if figures:
            rows = daily_sales.as_rows(figures, daily_ads.KEY + daily_ads.FIGURES)
            await self.session.execute(daily_ads.ADD, rows)

    async def lock_fulfillment_order(self, amazon_order_id: str) -> Any | None:
        t = orm.fulfillment_orders
        stmt = select(t).where(t.c.amazon_order_id == amazon_order_id).with_for_update()
        return (await self.session.execute(stmt)).first()

    async def insert_fulfillment_order(self, values: dict[str, Any]) -> None:
        await self.session.execute(insert(orm.fulfillment_orders).values(**values))

    async def update_fulfillment_order(self, amazon_order_id: str, values: dict[str, Any]) -> None:
        t = orm.fulfillment_orders
        await self.session.execute(
            update(t).where(t.c.amazon_order_id == amazon_order_id).values(**values)
        )

    async def record_events(self, rows: Sequence[dict[str, Any]]) -> None:
        """Keep the events, in order, in one statement; an event already kept (the same event
        published twice) is kept once."""
        if rows:
            names = tuple(rows[0])
            stmt = bulk.insert_statement(orm.order_events, names)
            await self.session.execute(
                stmt.on_conflict_do_nothing(index_elements=["event_id"]), bulk.arrays(rows, names)
            )

    async def forget_events_before(self, before: datetime, limit: int) -> int:
        """Delete up to ``limit`` event-log rows recorded before ``before`` (found through the
        BRIN index on ``recorded_at``); answers how many went. Rows another API replica is
        deleting are skipped, not waited for."""
        e = orm.order_events.c
        due = (
            select(e.id)
            .where(e.recorded_at < before)
            .limit(limit)
            .with_for_update(skip_locked=True)
            .scalar_subquery()
        )
        result = await self.session.execute(delete(orm.order_events).where(e.id.in_(due)))
        return int(result.rowcount)  # type: ignore[attr-defined]


class Reads:
    """Queries the API and the alert job run; implements ``service_layer.repositories.Reads``."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def _rows(self, stmt: Any) -> list[Any]:
        return list((await self.session.execute(stmt)).all())

    async def health_counts(self, seller_id: str, *, as_of: datetime) -> HealthCounts:
        """What the order-based account-health metrics count at ``as_of``: the windows' whole
        days from the health rollup by day, their partial days from its rows by order
        (``adapters.health_days``, docs/adr/0059)."""
        pieces = health_days.Pieces(as_of)
        statement = health_orders.counts_statement(seller_id, pieces.edge)
        raw = (await self.session.execute(statement)).one()._mapping
        days = {"first": pieces.first_day(health_days.LONGEST), "last": pieces.last_day}
        kinds = {"seller_id": seller_id, "kinds": health_days.HEALTH_KINDS}
        rollup = await self.session.execute(health_days.READ, {**kinds, **days})
        whole = health_days.health_figures(list(rollup), pieces)
        n = {label: int(raw[label]) + whole[label] for label in whole}

        def ratio(name: str) -> Ratio:
            return Ratio(numerator=int(n[name]), denominator=int(n[f"{name}_of"]))

        return HealthCounts(
            odr={ch: ratio(f"odr_{ch}") for ch in CHANNELS},
            odr_by_kind={ch: {k: n[f"odr_{ch}_{k}"] for k in DEFECT_KINDS} for ch in CHANNELS},
            late_shipment={days: ratio(f"lsr_{days}") for days in LSR_DAYS},
            pre_fulfillment_cancel=ratio("cancel"),
        )

    async def delivery_counts(
        self, seller_id: str, *, as_of: datetime, since: datetime
    ) -> DeliveryCounts:
        """What on-time delivery and valid tracking count, from the scans (``adapters.delivery``:
        the rollup's whole days and the shipments of the partial days, two statements)."""
        return await delivery.counts(self.session, seller_id, as_of=as_of, since=since)

    async def amazon_health(self, seller_id: str) -> list[Any]:
        t = orm.amazon_account_health
        stmt = select(t).where(t.c.seller_id == seller_id).order_by(t.c.marketplace_id)
        return await self._rows(stmt)

    async def health_next_change(
        self, seller_id: str, *, as_of: datetime, since: datetime
    ) -> datetime | None:
        """The moment from which time alone may change what ``health_counts`` counts (a date
        of the seller's rows reaching a window's edge): until then the counts are those at
        ``as_of``. None when no date ever will."""
        return (
            await self.session.execute(_next_change(seller_id, as_of, since))
        ).scalar_one_or_none()

    async def sellers_with_events_since(self, moment: datetime) -> list[str]:
        """The sellers with ``order_events`` recorded since ``moment`` (found through the BRIN
        index on ``recorded_at``)."""
        e = orm.order_events.c
        stmt = select(e.seller_id).where(e.recorded_at >= moment).distinct()
        return list((await self.session.execute(stmt)).scalars())

    async def sellers(self) -> list[str]:
        union = select(orm.orders.c.seller_id).union(
            select(orm.fulfillment_orders.c.seller_id), select(orm.defect_cases.c.seller_id)
        )
        return list((await self.session.execute(union)).scalars())

    async def latest_event_id(self) -> int:
        """The newest ``order_events`` id (0 when there is none)."""
        latest = (await self.session.execute(select(func.max(orm.order_events.c.id)))).scalar()
        return int(latest or 0)

    async def sellers_with_events(self, after_id: int, upto_id: int) -> list[str]:
        """The sellers with ``order_events`` ids in ``(after_id, upto_id]``."""
        e = orm.order_events.c
        stmt = select(e.seller_id).where(e.id > after_id, e.id <= upto_id).distinct()
        return list((await self.session.execute(stmt)).scalars())

    async def daily_sales(
        self,
        seller_id: str | None,
        kind: str,
        start: date,
        end: date,
        period: str | None,
        dim1: Sequence[str] | None = None,
    ) -> list[Any]:
        """The sales rollup of ``kind`` over days ``start`` to ``end``, summed by ``period``
        (``day``, ``week`` or ``None``), currency and keys (see ``adapters.daily_sales``);
        with ``dim1``, only the keys whose dim1 is one of those."""
        by_seller = seller_id is not None
        if dim1 is None:
            stmt = daily_sales.read_sql(period, by_seller)
            params = daily_sales.segment_params(kind, period, start, end)
        else:
            stmt = daily_sales.keys_read_sql(kind, period, by_seller)
            params = {"dim1": list(dim1), "start": start, "end": end}
        if seller_id is not None:
            params["seller_id"] = seller_id
        return list((await self.session.execute(stmt, params)).all())

    async def sku_page(
        self,
        seller_id: str | None,
        start: date,
        end: date,
        after: tuple[int, int, str, str] | None,
        limit: int,
    ) -> list[Any]:
        """The rollup's SKUs over days ``start`` to ``end``, summed by SKU and currency, in
        ``daily_sales.SKU_ORDER``, the first ``limit`` after ``after`` (its sort key)."""
        stmt = daily_sales.sku_page_sql(seller_id is not None, after is not None)
        params = daily_sales.segment_params("sku", None, start, end) | {"limit": limit}
        if seller_id is not None:
            params["seller_id"] = seller_id
        if after is not None:
            params |= dict(zip(("a_units", "a_orders", "a_sku", "a_currency"), after, strict=True))
        return list((await self.session.execute(stmt, params)).all())

    async def ad_totals(self, seller_id: str | None, start: date, end: date) -> list[Any]:
        """The ad rows dated ``start`` to ``end`` summed by ASIN, SKU and currency, from the
        daily ads rollup (docs/adr/0060)."""
        stmt = daily_ads.read_sql(seller_id is not None)
        params = daily_ads.read_params(seller_id, start, end)
        return list((await self.session.execute(stmt, params)).all())

    # The trace's reads: with ``seller_id``, only that seller's rows (tenancy is applied in the
    # query, so another seller's order reads exactly as an id nobody has).

    async def order(self, amazon_order_id: str, seller_id: str | None = None) -> Any | None:
        o = orm.orders.c
        stmt = select(orm.orders).where(o.amazon_order_id == amazon_order_id)
        return (await self.session.execute(_of_seller(stmt, o, seller_id))).first()

    async def fulfillment_of(
        self, amazon_order_id: str, seller_id: str | None = None
    ) -> Any | None:
        f = orm.fulfillment_orders.c
        stmt = select(orm.fulfillment_orders).where(f.amazon_order_id == amazon_order_id)
        return (await self.session.execute(_of_seller(stmt, f, seller_id))).first()

    async def events_of(self, subject: str, seller_id: str | None = None) -> list[Any]:
        e = orm.order_events.c
        stmt = select(orm.order_events).where(e.subject == subject)
        return await self._rows(_of_seller(stmt, e, seller_id).order_by(e.id))

    async def cases_of(self, amazon_order_id: str, seller_id: str | None = None) -> list[Any]:
        d = orm.defect_cases.c
        stmt = select(orm.defect_cases).where(d.amazon_order_id == amazon_order_id)
        return await self._rows(_of_seller(stmt, d, seller_id))

    async def shipments_of(self, amazon_order_id: str, seller_id: str | None = None) -> list[Any]:
        s = orm.shipments.c
        stmt = select(orm.shipments).where(s.amazon_order_id == amazon_order_id)
        return await self._rows(_of_seller(stmt, s, seller_id))

    async def dead_letters_of(self, subject: str) -> list[Any]:
        d = orm.plumbing.dead_letters.c
        stmt = select(orm.plumbing.dead_letters).where(d.subject == subject).order_by(d.id)
        return await self._rows(stmt)

    async def outbox_backlog(self) -> int:
        o = orm.plumbing.outbox.c
        stmt = select(func.count()).where(o.sent_at.is_(None))
        return int((await self.session.execute(stmt)).scalar_one())


def _of_seller(stmt: Any, columns: Any, seller_id: str | None) -> Any:
    return stmt if seller_id is None else stmt.where(columns.seller_id == seller_id)


class AlertRepository:
    """Implements ``service_layer.repositories.Alerts``."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def active(self, seller_id: str) -> dict[tuple[str, str], Alert]:
        a = orm.alerts.c
        stmt = (
            select(orm.alerts)
            .where(a.seller_id == seller_id, a.state == "active")
            .with_for_update()
        )
        rows = (await self.session.execute(stmt)).all()
        return {(r.metric, r.scope): _alert(r) for r in rows}

    async def add(self, values: dict[str, Any]) -> Alert:
        """The alert stored; ``AlertRaced`` when another process raised the same alert first
        (the transaction is then spoiled: the caller's unit of work must end)."""
        stmt = insert(orm.alerts).values(**values).returning(orm.alerts)
        try:
            return _alert((await self.session.execute(stmt)).one())
        except IntegrityError as exc:
            raise AlertRaced(values["seller_id"], values["metric"], values["scope"]) from exc

    async def clear(self, alert_id: int, *, state: str, at: datetime) -> Alert:
        a = orm.alerts
        stmt = update(a).where(a.c.id == alert_id).values(state=state, cleared_at=at).returning(a)
        return _alert((await self.session.execute(stmt)).one())

    async def page(
        self, *, seller_id: str | None, state: str | None, before_id: int | None, limit: int
    ) -> list[Alert]:
        a = orm.alerts.c
        stmt = select(orm.alerts).order_by(a.id.desc()).limit(limit)
        if seller_id is not None:
            stmt = stmt.where(a.seller_id == seller_id)
        if state:
            stmt = stmt.where(a.state == state)
        if before_id is not None:
            stmt = stmt.where(a.id < before_id)
        return [_alert(r) for r in (await self.session.execute(stmt)).all()]


def _alert(row: Any) -> Alert:
    return Alert(**row._mapping)


def _recent(table: Table, seller_id: str, since: datetime, *dates: str) -> Any:
    """The seller's rows with any of ``dates`` since ``since`` (or, when all of them may be
    NULL, none of them known)."""
    c = table.c
    recent = or_(*(c[d] >= since for d in dates))
    if all(c[d].nullable for d in dates):
        recent = recent | and_(*(c[d].is_(None) for d in dates))
    return and_(c.seller_id == seller_id, recent)


# --- when a seller's health can next change with time alone ----------------------------------
#
# Every window is closed, ``[as_of - days, as_of]``, on a date of the rows, and a row counts
# when one of its dates is since ``since``: with no new event, the counts change only when
# ``as_of`` passes a date plus one of those lengths. The alert job evaluates a seller with no
# new events again only once ``as_of`` has reached the least such moment (docs/adr/0055). Every
# length is tried on every date of every table (a superset of the edges the statement above
# has): a new window on a new date only has to name its length here.

HEALTH_DATES = {
    orm.orders: ("purchase_date", "latest_ship_date"),
    orm.fulfillment_orders: FULFILLMENT_DATES,
    # latest_delivery_date: on-time delivery's and valid tracking's windows (adapters/delivery.py)
    orm.shipments: ("ship_date", "latest_ship_date", "latest_delivery_date"),
    orm.defect_cases: ("order_purchase_date",),
}
_RECENT_BY = {
    orm.orders: ("purchase_date",),
    orm.fulfillment_orders: FULFILLMENT_DATES,
    orm.shipments: ("ship_date",),
    orm.defect_cases: ("order_purchase_date",),
}


def _next_change(seller_id: str, as_of: datetime, since: datetime) -> Any:
    history = as_of - since
    lengths = sorted(
        {timedelta(0), history}
        | {timedelta(days=d) for d in (ODR_DAYS, CANCEL_DAYS, VTR_DAYS, OTD_DAYS, *LSR_DAYS)}
    )
    firsts = []
    for table, dates in HEALTH_DATES.items():
        c = table.c
        edges = [_edge(c[d], as_of, length) for d in dates for length in lengths]
        recent = _recent(table, seller_id, since, *_RECENT_BY[table])
        firsts.append(select(func.least(*edges)).where(recent).scalar_subquery())
    return select(func.least(*firsts))


def _edge(date_column: Any, as_of: datetime, length: timedelta) -> Any:
    """The first edge after ``as_of`` of the windows ``length`` long: a date enters them when
    ``as_of`` reaches it (a date already reached has entered), and leaves when ``as_of``
    passes ``date + length`` (``date + length = as_of`` has not left yet)."""
    if not length:
        return func.min(date_column).filter(date_column > as_of)
    return func.min(date_column).filter(date_column >= as_of - length) + length
