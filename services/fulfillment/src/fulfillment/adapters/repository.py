"""Fulfillment's repositories: SQL for orders and shipment uploads, nothing else."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    DateTime,
    Select,
    Text,
    and_,
    any_,
    case,
    func,
    literal,
    literal_column,
    select,
    tuple_,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession

from fulfillment.adapters import codec, orm
from fulfillment.domain.errors import ConcurrentInsert
from fulfillment.domain.model import Order
from fulfillment.domain.search import LocalMidnight, SearchFilters, SearchPage
from shared.db import bulk
from shared.uploads import UploadStore

# A constant in the statement's text (not a parameter), so that the sort key below is the
# expression ix_orders_seller_ship_by indexes.
INFINITY = literal_column("'infinity'::timestamp with time zone", DateTime(timezone=True))
# The latest_ship_date sort's key, as ix_orders_seller_ship_by indexes it (an order without a
# LatestShipDate sorts last): the sort and its ranges walk that index.
SHIP_BY = func.coalesce(orm.orders.c.latest_ship_date, INFINITY)
# Sorted by ship-by date within a purchase window, the search walks ix_orders_seller_ship_by
# only when fewer than this many of the seller's orders lie outside the window (the walk skips
# those; docs/adr/0061-reads-bounded-by-what-they-return.md).
WALK_SKIPS_AT_MOST = 1000
# The tokens as ix_orders_search_keys indexes them (one a line in ``search_keys``).
KEYS = func.string_to_array(orm.orders.c.search_keys, literal_column("E'\\n'"), type_=ARRAY(Text))


def _row(order: Order) -> dict[str, Any]:
    """The order's row, its document as JSON text (as ``shared.db.bulk`` takes JSONB)."""
    return {
        "amazon_order_id": order.amazon_order_id,
        "seller_id": order.seller_id,
        "status": order.status.value,
        "fulfillment_channel": order.fulfillment_channel,
        "sales_channel": order.sales_channel,
        "ship_service_level": order.ship_service_level,
        "purchase_date": order.purchase_date,
        "latest_ship_date": order.latest_ship_date,
        "buyer_email_hash": order.buyer_email_hash,
        "flagged_late_at": order.flagged_late_at,
        "snapshot_version": order.snapshot_version,
        "version": order.version,
        "doc": codec.dump(order),
        "item_titles": "\n".join(i.title for i in order.items if i.title is not None) or None,
        "search_keys": "\n".join(order_tokens(order)),
    }


def order_tokens(order: Order) -> list[str]:
    """The ``search_keys`` tokens of an order: one for each equality filter it answers to (the
    same names as ``search_tokens``; docs/adr/0054-manage-orders-search-indexes.md)."""
    tokens = [
        "status:" + order.status.value,
        *_prefixed("channel:", order.fulfillment_channel),
        *_prefixed("sales_channel:", order.sales_channel),
        *_prefixed("service:", order.ship_service_level),
        *(name for name, on in _flag_values(order) if on),
    ]
    for item in order.items:
        tokens += [*_prefixed("asin:", item.asin), *_prefixed("sku:", item.seller_sku)]
    for shipment in order.shipments:
        tokens += ["carrier:" + shipment.carrier_code, "tracking:" + shipment.tracking_number]
    return list(dict.fromkeys(tokens))


def _prefixed(prefix: str, value: str | None) -> list[str]:
    return [] if value is None else [prefix + value]


def _flag_values(o: Order | SearchFilters) -> list[tuple[str, bool | None]]:
    return [
        ("is_prime", o.is_prime),
        ("is_business_order", o.is_business_order),
        ("is_replacement_order", o.is_replacement_order),
    ]


# Built once; the ids are given at execution (see shared.db.bulk.any_of).
_HELD = select(orm.orders.c.doc).where(orm.orders.c.amazon_order_id == any_(bulk.any_of()))
_HELD_LOCKED = _HELD.order_by(orm.orders.c.amazon_order_id).with_for_update()


class SqlOrderRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(
        self, amazon_order_id: str, *, seller_id: str | None, lock: bool = False
    ) -> Order | None:
        o = orm.orders.c
        stmt = select(o.doc).where(o.amazon_order_id == amazon_order_id)
        if seller_id is not None:
            stmt = stmt.where(o.seller_id == seller_id)
        if lock:
            stmt = stmt.with_for_update()
        doc = (await self.session.execute(stmt)).scalar_one_or_none()
        return None if doc is None else codec.order_of(doc)

    async def get_many(self, amazon_order_ids: Sequence[str], *, lock: bool) -> dict[str, Order]:
        """The orders held among these ids (any seller), locked in id order when asked."""
        ids = sorted(set(amazon_order_ids))
        stmt = _HELD_LOCKED if lock else _HELD
        docs = (await self.session.execute(stmt, {"ids": ids})).scalars()
        return {order.amazon_order_id: order for order in map(codec.order_of, docs)}

    async def add_many(self, orders: Sequence[Order]) -> None:
        """Insert new orders (one row per id), with one statement. Raises ``ConcurrentInsert``
        when one of them exists already (another transaction inserted it first)."""
        added = await bulk.insert_new(self.session, orm.orders, [_row(order) for order in orders])
        missing = sorted({order.amazon_order_id for order in orders} - added)
        if missing:
            raise ConcurrentInsert(missing[0])

    async def save(self, order: Order) -> None:
        await self.save_many([order])

    async def save_many(self, orders: Sequence[Order]) -> None:
        """Store orders already held (one row per id), with one statement."""
        rows = [_row(order) for order in orders]
        await bulk.update_rows(self.session, orm.orders, rows, touch="updated_at")

    async def with_tracking(self, seller_id: str, tracking_number: str) -> list[Order]:
        """The seller's orders with a shipment of this tracking number, locked in id order
        (found through the search tokens' GIN index, as the tracking-number filter is)."""
        o = orm.orders.c
        shipped = KEYS.contains(["tracking:" + tracking_number])
        stmt = (
            select(o.doc)
            .where(o.seller_id == seller_id, shipped)
            .order_by(o.amazon_order_id)
            .with_for_update()
        )
        return [codec.order_of(doc) for doc in (await self.session.execute(stmt)).scalars()]

    async def overdue_for_flagging(self, now: datetime, limit: int) -> list[Order]:
        """Unflagged FBM orders past their LatestShipDate, locked; others' locks skipped."""
        o = orm.orders.c
        stmt = (
            select(o.doc)
            .where(
                o.flagged_late_at.is_(None),
                o.fulfillment_channel == "MFN",
                o.status.in_(("Unshipped", "PartiallyShipped")),
                o.latest_ship_date < now,
            )
            .order_by(o.latest_ship_date)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        return [codec.order_of(doc) for doc in (await self.session.execute(stmt)).scalars()]

    async def search(self, filters: SearchFilters, page: SearchPage) -> list[Order]:
        walk = page.sort == "latest_ship_date" and await self._walk_may_skip_little(filters)
        key = _sort_key(filters, page, walk=walk)
        stmt = _paged(_filtered(select(orm.orders.c.doc), filters), page, key)
        return [codec.order_of(doc) for doc in (await self.session.execute(stmt)).scalars()]

    async def _walk_may_skip_little(self, f: SearchFilters) -> bool:
        """Whether fewer than ``WALK_SKIPS_AT_MOST`` of the seller's orders lie outside the
        purchase window (none without one): then a walk of ix_orders_seller_ship_by skips at
        most that many. Two index-only range scans of ix_orders_seller_purchase, each stopped
        at that many."""
        if f.seller_id is None:
            return False  # the index is by seller: nothing to walk
        o = orm.orders.c
        outside = [
            o.purchase_date < f.purchase_date_from if f.purchase_date_from else None,
            o.purchase_date >= f.purchase_date_to if f.purchase_date_to else None,
        ]
        counts = [
            select(func.count())
            .select_from(
                select(literal(1))
                .where(o.seller_id == f.seller_id, side)
                .limit(WALK_SKIPS_AT_MOST)
                .subquery()
            )
            .scalar_subquery()
            for side in outside
            if side is not None
        ]
        if not counts:
            return True
        total = counts[0] if len(counts) == 1 else counts[0] + counts[1]
        skipped = (await self.session.execute(select(total))).scalar_one()
        return int(skipped) < WALK_SKIPS_AT_MOST


def _filtered(stmt: Select[Any], f: SearchFilters) -> Select[Any]:
    """Each filter as a condition an index serves (docs/adr/0054-manage-orders-search-indexes.md):
    equality filters as tokens of ``search_keys`` (one GIN index), title words on
    ``item_titles`` (a trigram index), ids, e-mail hashes and dates on btree indexes."""
    o = orm.orders.c
    tokens = search_tokens(f)
    conditions: list[tuple[Any, Callable[[Any], Any]]] = [
        (f.seller_id, lambda v: o.seller_id == v),
        (f.purchase_date_from, lambda v: o.purchase_date >= v),
        (f.purchase_date_to, lambda v: o.purchase_date < v),
        (f.amazon_order_id, lambda v: o.amazon_order_id == v),
        (tokens or None, lambda v: KEYS.contains(v)),
        (f.title, _title_contains),
        (f.buyer_email_hash, lambda v: o.buyer_email_hash == v),
        (f.statuses or None, lambda v: KEYS.overlap(_status_tokens(v))),
        (f.exclude_statuses or None, lambda v: o.status.not_in(v)),
        (_flags(f, False) or None, lambda v: ~KEYS.overlap(v)),
        (f.latest_ship_date_from, lambda v: and_(SHIP_BY >= v, o.latest_ship_date.is_not(None))),
        (f.latest_ship_date_to, lambda v: SHIP_BY < v),
        (f.latest_ship_date_before, _before_day_end),
        (f.purchased_since, _purchased_since),
    ]
    return stmt.where(and_(True, *(build(v) for v, build in conditions if v is not None)))


def search_tokens(f: SearchFilters) -> list[str]:
    """The ``search_keys`` tokens every order the filters keep has (``order_tokens``' names)."""
    valued = [
        ("asin:", f.asin),
        ("sku:", f.seller_sku),
        ("carrier:", f.carrier_code),
        ("tracking:", f.tracking_number),
        ("channel:", f.fulfillment_channel),
        ("sales_channel:", f.sales_channel),
        ("service:", f.ship_service_level),
    ]
    return [prefix + v for prefix, v in valued if v is not None] + _flags(f, True)


def _flags(f: SearchFilters, wanted: bool) -> list[str]:
    """The flags the filters want set (``wanted`` True) or unset (False); a document written
    before a flag existed lacks it, which counts as unset."""
    return [name for name, value in _flag_values(f) if value is wanted]


def _status_tokens(statuses: Sequence[str]) -> list[str]:
    return ["status:" + s for s in statuses]


def _before_day_end(end: LocalMidnight) -> Any:
    """Due before the day ends on the calendar of the order's own marketplace."""
    return orm.orders.c.latest_ship_date < _at_marketplace(end)


def _purchased_since(start: LocalMidnight) -> Any:
    """Purchased since the day began on the calendar of the order's own marketplace."""
    return orm.orders.c.purchase_date >= _at_marketplace(start)


def _at_marketplace(midnight: LocalMidnight) -> Any:
    """The midnight of the order's own marketplace (a ``CASE`` on its marketplace id)."""
    market = orm.orders.c.doc["marketplace_id"].astext
    at = [(market == marketplace, moment) for marketplace, moment in midnight.by_marketplace]
    return case(*at, else_=midnight.other)


def _title_contains(text: str) -> Any:
    """Some item's title holds ``text``, any case: the titles are one per line in
    ``item_titles`` and ``text`` is one line, so a match never spans two titles."""
    pattern = "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    return orm.orders.c.item_titles.ilike(pattern)


def _sort_key(f: SearchFilters, page: SearchPage, *, walk: bool) -> Any:
    """The page's sort key. Sorted by LatestShipDate, the key is ix_orders_seller_ship_by's
    (the index serves the order and the cursor, the page reads about its own rows) when
    ``walk``: no purchase window, or one with few of the seller's orders outside it (the
    whole history). Otherwise the key is written so that it does not match the index: ship-by
    dates follow purchase dates, and a walk from the oldest would read the seller's history
    before the window first (0.8 s for the 7-day default at 1,000,000 orders); the window's
    orders are read and sorted instead (docs/adr/0061-reads-bounded-by-what-they-return.md)."""
    o = orm.orders.c
    if page.sort == "purchase_date":
        return o.purchase_date
    if walk:
        return SHIP_BY
    return func.coalesce(o.latest_ship_date, o.latest_ship_date, INFINITY)  # same value


def _paged(stmt: Select[Any], page: SearchPage, key: Any) -> Select[Any]:
    o = orm.orders.c
    if page.after is not None:
        at, after_id = page.after
        bound = tuple_(literal(at, DateTime(timezone=True)) if at else INFINITY, literal(after_id))
        row = tuple_(key, o.amazon_order_id)
        stmt = stmt.where(row < bound if page.descending else row > bound)
    order = (key.desc(), o.amazon_order_id.desc()) if page.descending else (key, o.amazon_order_id)
    return stmt.order_by(*order).limit(page.limit)


class SqlUploadRepository(UploadStore):
    def __init__(self, session: AsyncSession) -> None:
        super().__init__(session, orm.shipment_uploads)
