"""The open-cases lists that /v1/problem-orders is built from (claims not decided yet or under
appeal, negative feedback not removed), on real PostgreSQL: exactly those rows of the seller,
oldest first, whatever else the history holds; problem orders page through the same list; and
on a history large enough for the planner to care, both lists are read through their partial
indexes (docs/adr/0061-reads-bounded-by-what-they-return.md), so they read the open rows only."""

from __future__ import annotations

import importlib.util
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, insert, text

from defects.adapters import orm
from defects.adapters.repository import ClaimRepository, FeedbackRepository
from defects.bootstrap import SPEC
from defects.domain.state_machine import OPEN_CLAIM_STATUSES, ClaimStatus, FeedbackStatus
from orderflow_testkit.harness import RunningService

from .conftest import AS_OTHER, OTHER_SELLER, SELLER, claim_body, new_order_id
from .test_feedback_and_problem_orders_api import feedback_body

pytestmark = pytest.mark.integration

NOW = datetime.now(UTC)
SELLERS = (SELLER, OTHER_SELLER, "A4SELLER3EXAMPLE")


def _claim(n: int, seller_id: str, status: ClaimStatus) -> dict[str, Any]:
    return {
        "id": uuid.uuid4(),
        "seller_id": seller_id,
        "amazon_order_id": f"111-{n:07d}-0000000",
        "kind": "a_to_z",
        "reason": "item_not_received",
        "filed_at": NOW - timedelta(hours=n),
        "status": status.value,
        "version": 1,
    }


def _feedback(n: int, seller_id: str, rating: int, status: FeedbackStatus) -> dict[str, Any]:
    return {
        "id": uuid.uuid4(),
        "seller_id": seller_id,
        "amazon_order_id": f"112-{n:07d}-0000000",
        "rating": rating,
        "received_at": NOW - timedelta(hours=n),
        "status": status.value,
        "version": 1,
    }


async def test_open_cases_are_exactly_the_sellers_open_rows_oldest_first(
    defects: RunningService,
) -> None:
    # every status and rating for each of three sellers, interleaved, three rounds
    claims = [
        _claim(n, seller, status)
        for n, (_, seller, status) in enumerate(
            (r, s, st) for r in range(3) for st in ClaimStatus for s in SELLERS
        )
    ]
    feedback = [
        _feedback(n, seller, rating, status)
        for n, (_, seller, rating, status) in enumerate(
            (r, s, rt, st)
            for r in range(2)
            for st in FeedbackStatus
            for rt in range(1, 6)
            for s in SELLERS
        )
    ]
    async with defects.resources.sessions() as session, session.begin():
        await session.execute(insert(orm.claims), claims)  # seq follows the list's order
        await session.execute(insert(orm.feedback), feedback)

    open_claims = {
        s: [c["id"] for c in claims if c["seller_id"] == s and c["status"] in OPEN_CLAIM_STATUSES]
        for s in SELLERS
    }
    open_feedback = {
        s: [
            f["id"]
            for f in feedback
            if f["seller_id"] == s
            and f["rating"] <= 2
            and f["status"] in ("active", "removal_requested")
        ]
        for s in SELLERS
    }
    async with defects.resources.sessions() as session:
        for seller in SELLERS:
            found = await ClaimRepository(session).open_cases(seller, 1000)
            assert [c.id for c in found] == open_claims[seller]
            assert len(found) == 18  # six open statuses, three rounds
            negative = await FeedbackRepository(session).open_negative(seller, 1000)
            assert [f.id for f in negative] == open_feedback[seller]
            assert len(negative) == 8  # ratings 1 and 2, two open statuses, two rounds
            some = await ClaimRepository(session).open_cases(seller, 5)
            assert [c.id for c in some] == open_claims[seller][:5]
            some_feedback = await FeedbackRepository(session).open_negative(seller, 3)
            assert [f.id for f in some_feedback] == open_feedback[seller][:3]
        everyone = await ClaimRepository(session).open_cases(None, 1000)
        assert [c.id for c in everyone] == [
            c["id"] for c in claims if c["status"] in OPEN_CLAIM_STATUSES
        ]
        everyone_negative = await FeedbackRepository(session).open_negative(None, 1000)
        assert [f.id for f in everyone_negative] == [
            f["id"]
            for f in feedback
            if f["rating"] <= 2 and f["status"] in ("active", "removal_requested")
        ]


async def test_problem_orders_page_through_the_whole_list(defects: RunningService) -> None:
    now = datetime.now(UTC)
    orders = [new_order_id() for _ in range(7)]
    for n, oid in enumerate(orders):
        filed = (now - timedelta(days=n % 3, hours=n)).isoformat()
        r = await defects.client.post(
            "/v1/claims", json=claim_body(oid, filed_at=filed), headers=AS_OTHER
        )
        assert r.status_code == 201, r.text
        if n % 2:
            r = await defects.client.post(
                "/v1/feedback", json=feedback_body(oid, 1 + n % 3), headers=AS_OTHER
            )
            assert r.status_code == 201, r.text
    decided = await defects.client.post(
        "/v1/claims", json=claim_body(new_order_id()), headers=AS_OTHER
    )
    await defects.client.post(
        f"/v1/claims/{decided.json()['id']}/decision", json={"decision": "denied"}, headers=AS_OTHER
    )

    whole = await defects.client.get("/v1/problem-orders", params={"limit": 200}, headers=AS_OTHER)
    assert whole.status_code == 200 and whole.json()["next_cursor"] is None
    everything = whole.json()["items"]
    assert sorted(o["amazon_order_id"] for o in everything) == sorted(orders)
    assert all(o["seller_id"] == OTHER_SELLER for o in everything)
    # seven open claims and two negative feedback (ratings 2 and 1; the 3 is not negative)
    assert sum(len(o["cases"]) for o in everything) == 7 + 2
    pages: list[dict[str, Any]] = []
    params: dict[str, Any] = {"limit": 2}
    while True:
        page = await defects.client.get("/v1/problem-orders", params=params, headers=AS_OTHER)
        assert page.status_code == 200, page.text
        pages += page.json()["items"]
        if page.json()["next_cursor"] is None:
            break
        params["cursor"] = page.json()["next_cursor"]
    assert pages == everything


# A history large enough that reading it is far dearer than any index: 60,000 claims and as
# much feedback over three sellers, all closed but a few dozen.
_HISTORY = """
INSERT INTO claims (id, seller_id, amazon_order_id, kind, reason, filed_at, status, version)
SELECT gen_random_uuid(), 'A' || (g % 3), 'o' || g, 'a_to_z', 'item_not_received',
    now() - g * interval '1 minute', CASE WHEN g % 2000 = 0 THEN 'open' ELSE 'decided' END, 1
FROM generate_series(1, 60000) AS g;
INSERT INTO feedback (id, seller_id, amazon_order_id, rating, received_at, status, version)
SELECT gen_random_uuid(), 'A' || (g % 3), 'o' || g, 1 + g % 5, now() - g * interval '1 minute',
    CASE WHEN g % 2000 < 5 THEN 'active' ELSE 'removed' END, 1
FROM generate_series(1, 60000) AS g;
ANALYZE claims;
ANALYZE feedback;
"""


async def test_open_cases_read_only_open_rows(defects: RunningService) -> None:
    async with defects.resources.sessions() as session, session.begin():
        for statement in _HISTORY.split(";"):
            if statement.strip():
                await session.execute(text(statement))
    cases = [
        ("ix_claims_open", "claims", lambda s: ClaimRepository(s).open_cases("A1", 5000)),
        (
            "ix_feedback_open_negative",
            "feedback",
            lambda s: FeedbackRepository(s).open_negative("A1", 5000),
        ),
    ]
    for index, table, read in cases:
        plans = await _explained(defects, read)
        assert len(plans) == 1
        assert index in _indexes(plans[0]["Plan"]), plans
        assert _rows_read(plans[0]["Plan"], table) <= 30, plans


async def _explained(svc: RunningService, read: Any) -> list[Any]:
    """The plans (EXPLAIN ANALYZE, as JSON) of the statements ``read`` runs, as it ran them."""
    seen: list[tuple[str, Any]] = []
    engine = svc.resources.engine.sync_engine
    async with svc.resources.sessions() as session:
        mine = (await session.connection()).sync_connection

        def capture(conn: Any, *args: Any) -> None:
            if conn is mine:  # not the service's background work meanwhile
                seen.append((args[1], args[2]))

        event.listen(engine, "before_cursor_execute", capture)
        try:
            await read(session)
        finally:
            event.remove(engine, "before_cursor_execute", capture)
    async with svc.resources.sessions() as session:
        conn = await session.connection()
        return [
            (
                await conn.exec_driver_sql(
                    "EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) " + statement, parameters
                )
            ).scalar_one()[0]
            for statement, parameters in seen
        ]


def _indexes(node: dict[str, Any]) -> set[str]:
    below = (_indexes(child) for child in node.get("Plans", []))
    return set().union({node.get("Index Name", "")}, *below)


def _rows_read(node: dict[str, Any], table: str) -> int:
    """Rows the scans of ``table`` produced plus those their filters removed."""
    own = 0
    if node.get("Relation Name") == table:
        own = node.get("Actual Rows", 0) + node.get("Rows Removed by Filter", 0)
    return own + sum(_rows_read(child, table) for child in node.get("Plans", []))


def test_the_migration_indexes_what_the_lists_filter_on() -> None:
    """The partial indexes' predicates as migration 0008 created them are the lists' filters
    (a change to the open statuses needs a migration that rebuilds them)."""
    path = Path(SPEC.migrations_dir) / "versions" / "0008_open_cases_indexes.py"
    spec = importlib.util.spec_from_file_location("defects_0008", path)
    assert spec is not None and spec.loader is not None
    migration = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(migration)
    assert migration.OPEN_CLAIM == orm.OPEN_CLAIM
    assert migration.OPEN_NEGATIVE_FEEDBACK == orm.OPEN_NEGATIVE_FEEDBACK
    where = {i.name: str(i.dialect_options["postgresql"]["where"]) for i in orm.claims.indexes}
    assert where["ix_claims_open"] == orm.OPEN_CLAIM
