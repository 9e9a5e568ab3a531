"""The Manage Orders search through its indexes (docs/adr/0054-manage-orders-search-indexes.md):
each filter keeps exactly the orders it should (title words any case, accents, LIKE's own
characters taken literally, never a match across two items' titles), mixed filters page with
the cursor in both sorts, the search columns hold what the filters ask for (written by the
repository or filled by the migration alike), and on a table
large enough for the planner to care, the selective filters are answered by their index."""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import Select, event, select, text
from sqlalchemy.dialects import postgresql

from fulfillment.adapters import orm, repository
from fulfillment.bootstrap import SPEC
from fulfillment.domain.search import SearchFilters, SearchPage
from orderflow_testkit.harness import RunningService
from shared.events.common import Money
from shared.events.orders import OrderItem
from tests.fulfillment.conftest import AS_OPS, AS_SELLER, OTHER_SELLER, SELLER, apply, snapshot

pytestmark = pytest.mark.integration

NOW = datetime.now(UTC)


def _items(*lines: tuple[str, str, str]) -> tuple[OrderItem, ...]:
    """(title, asin, seller_sku) per line."""
    return tuple(
        OrderItem(
            order_item_id=f"{n:014d}",
            asin=asin,
            seller_sku=sku,
            title=title,
            quantity_ordered=1,
            item_price=Money(amount=Decimal("10.00"), currency_code="USD"),
        )
        for n, (title, asin, sku) in enumerate(lines, start=1)
    )


async def _search(
    svc: RunningService, headers: dict[str, str] = AS_SELLER, **params: Any
) -> list[str]:
    response = await svc.client.get("/v1/orders", params=params, headers=headers)
    assert response.status_code == 200, response.text
    return [o["amazon_order_id"] for o in response.json()["items"]]


async def _ship(svc: RunningService, oid: str, carrier: str, tracking: str) -> None:
    response = await svc.client.post(
        f"/v1/orders/{oid}/shipments",
        json={"carrier_code": carrier, "tracking_number": tracking, "ship_date": NOW.isoformat()},
        headers=AS_SELLER,
    )
    assert response.status_code == 201, response.text


async def test_each_filter_keeps_exactly_its_orders(fulfillment: RunningService) -> None:
    at = [NOW - timedelta(hours=h) for h in range(1, 8)]
    made = {
        "a": snapshot(
            purchased=at[0],
            items=_items(
                ("Crêpe Pan, Cast Iron", "B0CREPE001", "PAN-1"),
                ("Blue Mug", "B0MUG00001", "MUG-1"),
            ),
            is_prime=True,
        ),
        "b": snapshot(
            purchased=at[1],
            channel="AFN",
            status="Shipped",
            items=_items(("Red Kettle 100% steel", "B0KETTLE01", "KET-1")),
            is_business_order=True,
            sales_channel="Amazon.ca",
            ship_service_level="Expedited",
        ),
        "c": snapshot(
            purchased=at[2],
            items=_items(("blue mug", "B0MUG00001", "mug-1")),
            is_replacement_order=True,
            ship_service_level="NextDay",
        ),
        "d": snapshot(
            purchased=at[3],
            status="Canceled",
            items=_items(("Mug_Holder", "B0HOLD0001", "HOLD-1")),
            sales_channel="Amazon.com.mx",
        ),
        "f": snapshot(purchased=at[4], items=_items(("Blue Mug Red Pan", "B0SET00001", "SET-1"))),
        "g": snapshot(
            purchased=at[5],
            items=_items(("Blue Mug", "B0BLUE0002", "BLUE-2"), ("Red Pan", "B0RED00002", "RED-2")),
        ),
        "e": snapshot(
            purchased=at[6],
            seller_id=OTHER_SELLER,
            items=_items(("Crêpe Pan", "B0CREPE001", "PAN-1")),
        ),
    }
    for s in made.values():
        await apply(fulfillment, s)
    await _ship(fulfillment, made["c"].amazon_order_id, "ups", "1Z999AA10123456784")
    id_of = {name: s.amazon_order_id for name, s in made.items()}

    async def keeps(*, headers: dict[str, str] = AS_SELLER, **params: Any) -> set[str]:
        found = set(await _search(fulfillment, headers, **params))
        return {name for name, oid in id_of.items() if oid in found}

    assert await keeps() == {"a", "b", "c", "d", "f", "g"}
    # title words: any case, accents, LIKE's % and _ taken literally, one title at a time
    assert await keeps(title="crêpe") == {"a"}
    assert await keeps(title="CRÊPE PAN") == {"a"}
    assert await keeps(title="ê") == {"a"}  # too short for a trigram: still right
    assert await keeps(title="blue mug") == {"a", "c", "f", "g"}
    assert await keeps(title="mug red") == {"f"}  # g's "Blue Mug" + "Red Pan" is two titles
    assert await keeps(title="100% steel") == {"b"}
    assert await keeps(title="g_h") == {"d"}
    assert await keeps(title="g%h") == set()
    assert await keeps(title="gxh") == set()
    assert await keeps(headers=AS_OPS, title="crêpe pan") == {"a", "e"}
    # equality filters, one token each
    assert await keeps(asin="B0MUG00001") == {"a", "c"}
    assert await keeps(asin="B0CREPE001") == {"a"}  # e is another seller's
    assert await keeps(seller_sku="MUG-1") == {"a"}  # exact, case and all
    assert await keeps(seller_sku="mug-1") == {"c"}
    assert await keeps(carrier_code="UPS") == {"c"}
    assert await keeps(tracking_number="1Z999AA10123456784") == {"c"}
    assert await keeps(status="Canceled") == {"d"}
    assert await keeps(status=["Unshipped", "Canceled"]) == {"a", "d", "f", "g"}
    assert await keeps(status="PendingAvailability") == set()
    assert await keeps(fulfillment_channel="AFN") == {"b"}
    assert await keeps(fulfillment_channel="MFN") == {"a", "c", "d", "f", "g"}
    assert await keeps(sales_channel="Amazon.ca") == {"b"}
    assert await keeps(sales_channel="Amazon.com.mx") == {"d"}
    assert await keeps(ship_service_level="NextDay") == {"c"}
    assert await keeps(is_prime=True) == {"a"}
    assert await keeps(is_prime=False) == {"b", "c", "d", "f", "g"}
    assert await keeps(is_business_order=True) == {"b"}
    assert await keeps(is_replacement_order=True) == {"c"}
    assert await keeps(is_replacement_order=False, is_business_order=False) == {"a", "d", "f", "g"}
    # several at once
    assert await keeps(title="mug", asin="B0MUG00001", is_prime=False) == {"c"}
    assert await keeps(title="pan", status="Unshipped", fulfillment_channel="MFN") == {
        "a",
        "f",
        "g",
    }


async def test_mixed_filters_page_with_the_cursor_in_both_sorts(
    fulfillment: RunningService,
) -> None:
    base = NOW - timedelta(days=3)
    wanted, others = [], []
    for n in range(9):
        s = snapshot(
            purchased=base + timedelta(hours=n),
            latest_ship_date=base + timedelta(days=2, hours=-n),  # the reverse order
            items=_items((f"Travel Mug {n}", f"B0TRAVEL{n:02d}", f"TM-{n}")),
            is_prime=n % 3 == 0,
            sales_channel="Amazon.ca" if n != 4 else "Amazon.com",
        )
        await apply(fulfillment, s)
        (others if n % 3 == 0 or n == 4 else wanted).append(s)
    kettle = _items(("Tea Kettle", "B0TKETTLE1", "T"))
    await apply(fulfillment, snapshot(purchased=base, items=kettle))
    filters = {
        "title": "TRAVEL mug",
        "is_prime": "false",
        "sales_channel": "Amazon.ca",
        "status": "Unshipped",
        "purchase_date_from": (base - timedelta(hours=1)).isoformat(),
    }
    by_purchase = [s.amazon_order_id for s in sorted(wanted, key=lambda s: s.purchase_date)]
    by_ship = [s.amazon_order_id for s in sorted(wanted, key=lambda s: s.latest_ship_date)]
    for sort, order, expected in (
        ("purchase_date", "desc", by_purchase[::-1]),
        ("purchase_date", "asc", by_purchase),
        ("latest_ship_date", "asc", by_ship),
        ("latest_ship_date", "desc", by_ship[::-1]),
    ):
        assert await _pages(fulfillment, sort=sort, order=order, **filters) == expected


@pytest.mark.parametrize("walk_skips_at_most", [0, 1_000])
async def test_the_ship_by_sort_lists_the_same_orders_whether_it_walks_or_sorts(
    fulfillment: RunningService, monkeypatch: pytest.MonkeyPatch, walk_skips_at_most: int
) -> None:
    """Over any purchase window, in both orders, paged by the cursor: the window's orders of
    the seller in ship-by order (ties by order id, no ship-by date last), whether the search
    walks ix_orders_seller_ship_by (few orders outside the window) or sorts the window (0:
    never walks; docs/adr/0061-reads-bounded-by-what-they-return.md)."""
    monkeypatch.setattr(repository, "WALK_SKIPS_AT_MOST", walk_skips_at_most, raising=False)
    made = []
    for n in range(14):
        purchased = NOW - timedelta(days=400 - 30 * n, hours=n)
        ship_by = None if n % 5 == 4 else purchased + timedelta(days=(n * 7) % 4)
        if n in (6, 7):
            ship_by = NOW - timedelta(days=200)  # a tie, broken by the order id
        for seller in (SELLER, OTHER_SELLER):
            s = snapshot(
                seller_id=seller,
                purchased=purchased,
                latest_ship_date=ship_by,
                status="Shipped" if n % 3 else "Unshipped",
            ).model_copy(update={"latest_ship_date": ship_by})
            await apply(fulfillment, s)
            if seller == SELLER:
                made.append(s)

    def ship_by_key(s: Any) -> tuple[datetime, str]:
        return (s.latest_ship_date or datetime.max.replace(tzinfo=UTC), s.amazon_order_id)

    windows = [
        (NOW - timedelta(days=1000), None),  # the whole history
        (NOW - timedelta(days=350), None),  # all but the two oldest
        (NOW - timedelta(days=1000), NOW - timedelta(days=60)),  # all but the two newest
        (NOW - timedelta(days=250), NOW - timedelta(days=100)),  # the middle
        (NOW - timedelta(days=30), None),  # the last month
    ]
    for start, end in windows:
        inside = [
            s for s in made if s.purchase_date >= start and (end is None or s.purchase_date < end)
        ]
        expected = [s.amazon_order_id for s in sorted(inside, key=ship_by_key)]
        window = {"purchase_date_from": start.isoformat()}
        if end is not None:
            window["purchase_date_to"] = end.isoformat()
        for order, listed in (("asc", expected), ("desc", expected[::-1])):
            found = await _pages(fulfillment, sort="latest_ship_date", order=order, **window)
            assert found == listed, (start, end, order)


async def _pages(svc: RunningService, **params: Any) -> list[str]:
    seen: list[str] = []
    cursor = None
    for _ in range(20):
        more = {"cursor": cursor} if cursor else {}
        response = await svc.client.get(
            "/v1/orders", params={"limit": 2, **params, **more}, headers=AS_SELLER
        )
        assert response.status_code == 200, response.text
        seen += [o["amazon_order_id"] for o in response.json()["items"]]
        cursor = response.json()["next_cursor"]
        if cursor is None:
            return seen
    raise AssertionError("more pages than orders")


async def test_the_columns_hold_the_tokens_the_filters_ask_for_and_the_fill_agrees(
    fulfillment: RunningService,
) -> None:
    """What the repository writes, and what migration 0010 fills existing rows with."""
    s = snapshot(
        items=_items(("Blue Mug", "B0MUG00001", "MUG-1"), ("Red Pan", "B0PAN00001", "PAN-1")),
        is_prime=True,
        is_business_order=True,
    )
    plain = snapshot(items=_items(("Tea", "B0TEA00001", "TEA-1")), channel="AFN")
    for one in (s, plain):
        await apply(fulfillment, one)
    await _ship(fulfillment, s.amazon_order_id, "usps", "9400100000000000000000")
    written = await _columns(fulfillment)
    row = written[s.amazon_order_id]
    assert row[0] == "Blue Mug\nRed Pan"
    asked = SearchFilters(
        asin="B0PAN00001",
        seller_sku="MUG-1",
        carrier_code="USPS",
        tracking_number="9400100000000000000000",
        fulfillment_channel="MFN",
        sales_channel="Amazon.com",
        ship_service_level="Std US D2D Dom",
        is_prime=True,
        is_business_order=True,
    )
    assert set(repository.search_tokens(asked)) <= row[1]
    assert "status:Shipped" in row[1] and "is_replacement_order" not in row[1]

    async with fulfillment.resources.sessions() as session, session.begin():
        await session.execute(text("UPDATE orders SET item_titles = NULL, search_keys = NULL"))
        await session.execute(text(_migration().FILL))
    assert await _columns(fulfillment) == written


async def _columns(svc: RunningService) -> dict[str, tuple[str | None, set[str]]]:
    o = orm.orders.c
    async with svc.resources.sessions() as session:
        rows = await session.execute(select(o.amazon_order_id, o.item_titles, o.search_keys))
    return {oid: (titles, set(keys.split("\n"))) for oid, titles, keys in rows}


def _migration() -> Any:
    path = SPEC.migrations_dir / "versions" / "0010_search_indexes.py"
    spec = importlib.util.spec_from_file_location("fulfillment_0010", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _statement(filters: SearchFilters, sort: str = "purchase_date") -> Select[Any]:
    page = SearchPage(sort=sort, descending=True, after=None, limit=51)
    key = repository._sort_key(filters, page, walk=filters.purchase_date_from is None)
    return repository._paged(repository._filtered(select(orm.orders.c.doc), filters), page, key)


def test_filters_are_conditions_on_the_indexed_columns() -> None:
    filters = SearchFilters(
        seller_id="A",
        title="mug",
        asin="B0X",
        tracking_number="1Z",
        statuses=("Unshipped",),
        is_prime=False,
    )
    sql = str(_statement(filters).compile(dialect=postgresql.dialect()))
    assert "orders.item_titles ILIKE" in sql
    assert "string_to_array(orders.search_keys, E'\\n') @>" in sql
    assert "string_to_array(orders.search_keys, E'\\n') &&" in sql
    assert "NOT (string_to_array(orders.search_keys, E'\\n') &&" in sql
    assert "jsonb_array_elements" not in sql and "orders.doc ->" not in sql


# A table large enough that reading it is far dearer than any index: 40,000 orders of one
# seller over 400 days, each with its own title word, ASIN and tracking number.
_LARGE = """
INSERT INTO orders (amazon_order_id, seller_id, status, fulfillment_channel, sales_channel,
    ship_service_level, purchase_date, latest_ship_date, snapshot_version, version, doc,
    item_titles, search_keys)
SELECT id, 'A2SELLER1EXAMPLE', 'Shipped', 'MFN', 'Amazon.com', 'Std US D2D Dom', at,
    at + interval '2 days', 1, 1, '{}', 'Ceramic mug model ' || md5(g::text),
    concat_ws(E'\\n', 'status:Shipped', 'channel:MFN', 'asin:B0' || lpad(g::text, 8, '0'),
        'carrier:UPS', 'tracking:1Z' || lpad(g::text, 16, '0'))
FROM generate_series(1, 40000) AS g,
    LATERAL (SELECT '1' || lpad((g % 100)::text, 2, '0') || '-' || lpad(g::text, 7, '0')
        || '-0000000' AS id, now() - g * interval '15 minutes' AS at) AS v
"""


async def test_selective_filters_are_answered_by_their_index(
    fulfillment: RunningService,
) -> None:
    async with fulfillment.resources.sessions() as session, session.begin():
        await session.execute(text(_LARGE))
        await session.execute(text("ANALYZE orders"))
    ever = NOW - timedelta(days=1000)
    cases: list[tuple[str, int, str, dict[str, Any]]] = [
        ("ix_orders_item_titles", 1, "purchase_date", {"title": _md5_of(20000)[:12]}),
        ("ix_orders_search_keys", 1, "purchase_date", {"tracking_number": "1Z0000000000020000"}),
    ]
    cases = [(index, n, sort, {"purchase_date_from": ever, **a}) for index, n, sort, a in cases]
    # sorted by ship-by date with no purchase window, as the ship-by views are
    cases.append(("ix_orders_seller_ship_by", 51, "latest_ship_date", {"latest_ship_date_to": NOW}))
    for index, count, sort, asked in cases:
        filters = SearchFilters(seller_id="A2SELLER1EXAMPLE", **asked)
        stmt = _statement(filters, sort)
        async with fulfillment.resources.sessions() as session:
            with _explained(fulfillment):
                plan = (await session.execute(stmt)).scalar_one()
            found = (await session.execute(stmt)).scalars().all()
        assert index in _indexes(plan[0]["Plan"]), plan
        assert len(found) == count


async def test_the_ship_by_sort_over_the_whole_history_reads_about_one_page(
    fulfillment: RunningService, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Sorted by ship-by date over a purchase window holding the whole history, a page (and
    the page after a cursor) walks ix_orders_seller_ship_by and reads about the page's rows; a
    window with most of the history outside it (the 7-day default) is read and sorted, as
    before (docs/adr/0061-reads-bounded-by-what-they-return.md)."""
    async with fulfillment.resources.sessions() as session, session.begin():
        await session.execute(text(_LARGE))
        await session.execute(text("ANALYZE orders"))
    monkeypatch.setattr(repository.codec, "order_of", lambda doc: doc)  # _LARGE's are empty
    ever = NOW - timedelta(days=1000)
    middle = (NOW - timedelta(days=200), "1" + "00-0019200-0000000")
    cases = [
        (SearchFilters(purchase_date_from=ever), False, None),
        (SearchFilters(purchase_date_from=ever), True, None),
        (SearchFilters(purchase_date_from=ever), False, middle),
        (SearchFilters(purchase_date_from=ever), True, middle),
        (SearchFilters(purchase_date_from=ever, purchase_date_to=NOW), True, None),
        (SearchFilters(purchase_date_from=ever, exclude_statuses=("Pending",)), False, None),
    ]
    for asked, descending, after in cases:
        filters = replace(asked, seller_id="A2SELLER1EXAMPLE")
        page = SearchPage(sort="latest_ship_date", descending=descending, after=after, limit=51)
        plans, found = await _plans_of(fulfillment, filters, page)
        search = plans[-1]["Plan"]
        assert "ix_orders_seller_ship_by" in _indexes(search), (asked, descending, plans)
        assert _rows_read(search) <= 60, (asked, descending, plans)
        assert len(found) == 51

    week = SearchFilters(seller_id="A2SELLER1EXAMPLE", purchase_date_from=NOW - timedelta(days=7))
    page = SearchPage(sort="latest_ship_date", descending=False, after=None, limit=51)
    plans, found = await _plans_of(fulfillment, week, page)
    assert "ix_orders_seller_ship_by" not in _indexes(plans[-1]["Plan"]), plans
    assert _rows_read(plans[-1]["Plan"]) <= 7 * 96 + 10, plans
    assert len(found) == 51


async def _plans_of(
    svc: RunningService, filters: SearchFilters, page: SearchPage
) -> tuple[list[Any], list[Any]]:
    """The search's orders, and the plans (EXPLAIN ANALYZE, as JSON) of the statements it ran."""
    seen: list[tuple[str, Any]] = []
    engine = svc.resources.engine.sync_engine
    async with svc.resources.sessions() as session:
        mine = (await session.connection()).sync_connection

        def capture(conn: Any, *args: Any) -> None:
            if conn is mine:  # not the service's background work meanwhile
                seen.append((args[1], args[2]))

        event.listen(engine, "before_cursor_execute", capture)
        try:
            found = await repository.SqlOrderRepository(session).search(filters, page)
        finally:
            event.remove(engine, "before_cursor_execute", capture)
    async with svc.resources.sessions() as session:
        conn = await session.connection()
        plans = [
            (await conn.exec_driver_sql("EXPLAIN (ANALYZE, FORMAT JSON) " + sql, args)).scalar()[0]
            for sql, args in seen
        ]
    return plans, found


def _rows_read(node: dict[str, Any]) -> int:
    """Rows the plan's scans produced plus those their filters removed."""
    own = 0
    if "Scan" in node["Node Type"]:
        own = node.get("Actual Rows", 0) + node.get("Rows Removed by Filter", 0)
    return own + sum(_rows_read(child) for child in node.get("Plans", []))


@contextlib.contextmanager
def _explained(svc: RunningService) -> Iterator[None]:
    """Statements run meanwhile answer their plan (as JSON) instead of their rows."""

    def explain(*args: Any) -> tuple[str, Any]:
        return "EXPLAIN (FORMAT JSON) " + args[2], args[3]

    engine = svc.resources.engine.sync_engine
    event.listen(engine, "before_cursor_execute", explain, retval=True)
    try:
        yield
    finally:
        event.remove(engine, "before_cursor_execute", explain)


def _indexes(node: dict[str, Any]) -> set[str]:
    below = (_indexes(child) for child in node.get("Plans", []))
    return set().union({node.get("Index Name", "")}, *below)


def _md5_of(n: int) -> str:
    return hashlib.md5(str(n).encode()).hexdigest()
