"""Feedback and the problem-orders view over REST, on real PostgreSQL and Kafka."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer

from orderflow_testkit.harness import RunningService, eventually

from .conftest import (
    AS_OTHER,
    AS_SELLER,
    claim_body,
    defects_events,
    new_order_id,
    publish_order,
    snapshot,
)

pytestmark = pytest.mark.integration


def feedback_body(amazon_order_id: str, rating: int) -> dict[str, Any]:
    return {
        "amazon_order_id": amazon_order_id,
        "rating": rating,
        "comment": "Arrived late and broken",
        "received_at": (datetime.now(UTC) - timedelta(hours=2)).isoformat(),
    }


async def test_negative_feedback_counts_until_removed_and_events_say_so(
    defects: RunningService, producer: AIOKafkaProducer
) -> None:
    oid = new_order_id()
    await publish_order(producer, defects, snapshot(oid))
    created = await defects.client.post(
        "/v1/feedback", json=feedback_body(oid, 1), headers=AS_SELLER
    )
    assert created.status_code == 201, created.text
    fb = created.json()
    assert (fb["status"], fb["counts_toward_odr"], fb["odr_rule"]) == (
        "active",
        True,
        "feedback.negative",
    )
    url = f"/v1/feedback/{fb['id']}"
    early = await defects.client.post(
        url + "/removal", json={"outcome": "denied"}, headers=AS_SELLER
    )
    assert early.status_code == 409
    asked = await defects.client.post(
        url + "/removal-request",
        json={"reason": "product review, not seller feedback"},
        headers=AS_SELLER,
    )
    assert asked.json()["status"] == "removal_requested"
    removed = await defects.client.post(
        url + "/removal", json={"outcome": "removed"}, headers=AS_SELLER
    )
    body = removed.json()
    assert (body["status"], body["counts_toward_odr"], body["odr_rule"]) == (
        "removed",
        False,
        "feedback.removed",
    )
    assert (await defects.client.get(url, headers=AS_OTHER)).status_code == 404

    events = await defects_events(defects, oid, 2)
    assert [(e.type, e.aggregateversion, e.data["counts_toward_odr"]) for e in events] == [
        ("feedback.received", 1, True),
        ("feedback.removed", 3, False),
    ]
    assert events[1].data["removed_at"] is not None


async def test_feedback_list_filters_and_validation(defects: RunningService) -> None:
    oid = new_order_id()
    for rating in (5, 2):
        r = await defects.client.post(
            "/v1/feedback", json=feedback_body(oid, rating), headers=AS_SELLER
        )
        assert r.status_code == 201
    every = await defects.client.get(
        "/v1/feedback", params={"amazon_order_id": oid}, headers=AS_SELLER
    )
    assert [f["rating"] for f in every.json()["items"]] == [2, 5]
    negative = await defects.client.get(
        "/v1/feedback", params={"amazon_order_id": oid, "negative": "true"}, headers=AS_SELLER
    )
    assert [f["rating"] for f in negative.json()["items"]] == [2]
    page = await defects.client.get(
        "/v1/feedback", params={"amazon_order_id": oid, "limit": 1}, headers=AS_SELLER
    )
    rest = await defects.client.get(
        "/v1/feedback",
        params={"amazon_order_id": oid, "limit": 1, "cursor": page.json()["next_cursor"]},
        headers=AS_SELLER,
    )
    assert [f["rating"] for f in rest.json()["items"]] == [5]
    for bad, field in [
        ({"rating": 6}, "body.rating"),
        ({"rating": "2"}, "body.rating"),
        ({"amazon_order_id": "x"}, "body.amazon_order_id"),
    ]:
        r = await defects.client.post(
            "/v1/feedback", json={**feedback_body(oid, 1), **bad}, headers=AS_SELLER
        )
        assert r.status_code == 422 and field in [e["field"] for e in r.json()["errors"]]


async def test_problem_orders_most_urgent_first(defects: RunningService) -> None:
    urgent, later, no_due = new_order_id(), new_order_id(), new_order_id()
    now = datetime.now(UTC)
    await defects.client.post(
        "/v1/claims",
        json=claim_body(
            later,
            kind="chargeback",
            reason="unauthorized",
            filed_at=(now - timedelta(days=1)).isoformat(),
        ),
        headers=AS_SELLER,
    )
    await defects.client.post(
        "/v1/claims",
        json=claim_body(
            urgent,
            kind="chargeback",
            reason="not_received",
            filed_at=(now - timedelta(days=6)).isoformat(),
        ),
        headers=AS_SELLER,
    )
    await defects.client.post("/v1/claims", json=claim_body(no_due), headers=AS_SELLER)
    await defects.client.post("/v1/feedback", json=feedback_body(no_due, 2), headers=AS_SELLER)
    closed = new_order_id()
    done = await defects.client.post("/v1/claims", json=claim_body(closed), headers=AS_SELLER)
    await defects.client.post(
        f"/v1/claims/{done.json()['id']}/decision", json={"decision": "denied"}, headers=AS_SELLER
    )

    async def listed() -> list[dict[str, Any]] | None:
        r = await defects.client.get("/v1/problem-orders", params={"limit": 200}, headers=AS_SELLER)
        mine = [
            o for o in r.json()["items"] if o["amazon_order_id"] in (urgent, later, no_due, closed)
        ]
        return mine if len(mine) >= 3 else None

    mine = await eventually(listed, timeout=10)
    assert [o["amazon_order_id"] for o in mine] == [urgent, later, no_due]
    assert mine[0]["next_due_at"] is not None and mine[0]["counts_toward_odr"] is True
    assert sorted(c["case_type"] for c in mine[2]["cases"]) == ["a_to_z", "feedback"]
    other = await defects.client.get("/v1/problem-orders", headers=AS_OTHER)
    assert urgent not in [o["amazon_order_id"] for o in other.json()["items"]]


async def test_the_same_feedback_recorded_twice_is_one_record(defects: RunningService) -> None:
    oid = new_order_id()
    body = feedback_body(oid, 2)
    answers = await asyncio.gather(
        *(defects.client.post("/v1/feedback", json=body, headers=AS_SELLER) for _ in range(2))
    )
    assert sorted(a.status_code for a in answers) == [200, 201], [a.text for a in answers]
    assert answers[0].json()["id"] == answers[1].json()["id"]
    again = await defects.client.post("/v1/feedback", json=body, headers=AS_SELLER)
    assert (again.status_code, again.json()["id"]) == (200, answers[0].json()["id"])
    assert again.headers["location"] == f"/v1/feedback/{answers[0].json()['id']}"

    changed = await defects.client.post(
        "/v1/feedback", json=dict(body, rating=4), headers=AS_SELLER
    )
    assert changed.status_code == 409, changed.text
    assert answers[0].json()["id"] in changed.json()["detail"]
    listed = await defects.client.get(
        "/v1/feedback", params={"amazon_order_id": oid}, headers=AS_SELLER
    )
    assert len(listed.json()["items"]) == 1
