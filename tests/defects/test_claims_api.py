"""Claims over REST on real PostgreSQL and Kafka: facts from orders.v1 / fulfillment.v1 in the
evidence packet, the lifecycle with its 409s, deadlines, lists, isolation, defects.v1 events."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer
from sqlalchemy import func, select

from orderflow_testkit.harness import RunningService, eventually
from shared.events.fulfillment import RefundIssued

from .conftest import (
    AS_OPS,
    AS_OTHER,
    AS_SELLER,
    OTHER_SELLER,
    claim_body,
    defects_events,
    new_order_id,
    publish_fulfillment,
    publish_order,
    shipment,
    snapshot,
)

pytestmark = pytest.mark.integration


async def _file(svc: RunningService, body: dict[str, Any]) -> dict[str, Any]:
    response = await svc.client.post("/v1/claims", json=body, headers=AS_SELLER)
    assert response.status_code == 201, response.text
    assert response.headers["location"] == f"/v1/claims/{response.json()['id']}"
    return dict(response.json())


async def _get(svc: RunningService, claim_id: str) -> dict[str, Any]:
    response = await svc.client.get(f"/v1/claims/{claim_id}", headers=AS_SELLER)
    assert response.status_code == 200, response.text
    return dict(response.json())


async def test_claim_before_its_order_is_linked_when_order_and_shipment_arrive(
    defects: RunningService, producer: AIOKafkaProducer
) -> None:
    oid = new_order_id()
    claim = await _file(defects, claim_body(oid))
    assert claim["status"] == "open" and claim["order"] == {
        "known": False,
        "purchase_date": None,
        "fulfillment_channel": None,
        "order_status": None,
    }
    assert claim["counts_toward_odr"] is True
    assert claim["odr_rule"] == "a_to_z.open_provisional"
    assert claim["evidence_packet"]["order_known"] is False

    order = snapshot(oid)
    await publish_order(producer, defects, order)
    await publish_fulfillment(producer, defects, "shipment.confirmed", shipment(oid), version=1)

    async def linked() -> dict[str, Any] | None:
        body = await _get(defects, claim["id"])
        both = body["order"]["known"] and body["evidence_packet"]["shipments"]
        return body if both else None  # two topics: either may be applied first

    body = await eventually(linked, timeout=20)
    assert body["order"]["known"] is True
    assert body["order"]["fulfillment_channel"] == "MFN"
    assert datetime.fromisoformat(body["order"]["purchase_date"]) == order.purchase_date
    [shipped] = body["evidence_packet"]["shipments"]
    assert (shipped["carrier_code"], shipped["tracking_number"], shipped["on_time"]) == (
        "UPS",
        "1Z999AA10123456784",
        True,
    )
    assert body["evidence_packet"]["delivery_promise"]["latest_delivery_date"] is not None


async def test_buy_shipping_makes_a_delivery_claim_not_count(
    defects: RunningService, producer: AIOKafkaProducer
) -> None:
    oid = new_order_id()
    await publish_order(producer, defects, snapshot(oid))
    ship = shipment(oid, is_buy_shipping=True)
    await publish_fulfillment(producer, defects, "shipment.confirmed", ship, version=1)
    claim = await _file(defects, claim_body(oid))

    async def protected() -> bool:
        body = await _get(defects, claim["id"])
        return body["odr_rule"] == "a_to_z.buy_shipping_protected"

    await eventually(protected, timeout=20)
    decided = await defects.client.post(
        f"/v1/claims/{claim['id']}/decision",
        json={"decision": "granted_seller_funded"},
        headers=AS_SELLER,
    )
    assert decided.json()["counts_toward_odr"] is False
    events = await defects_events(defects, oid, 2)
    assert [(e.type, e.data["counts_toward_odr"], e.data["odr_rule"]) for e in events][-1] == (
        "claim.decided",
        False,
        "a_to_z.buy_shipping_protected",
    )


async def test_lifecycle_over_rest_with_409s_and_events(
    defects: RunningService, producer: AIOKafkaProducer
) -> None:
    oid = new_order_id()
    claim = await _file(defects, claim_body(oid))
    url = f"/v1/claims/{claim['id']}"

    early = await defects.client.post(f"{url}/appeal", json={}, headers=AS_SELLER)
    assert early.status_code == 409 and "open" in early.json()["detail"]

    asked = await defects.client.post(
        f"{url}/information-requests", json={"note": "send tracking"}, headers=AS_SELLER
    )
    assert asked.status_code == 200, asked.text
    body = asked.json()
    assert body["status"] == "information_requested"
    due = datetime.fromisoformat(body["due_at"])
    requested = datetime.fromisoformat(body["information_requested_at"])
    assert due - requested == timedelta(hours=48)

    answered = await defects.client.post(
        f"{url}/responses", json={"text": "Delivered, see tracking."}, headers=AS_SELLER
    )
    assert answered.status_code == 200 and answered.json()["status"] == "responded"
    assert answered.json()["due_at"] is None
    reviewed = await defects.client.post(f"{url}/review", json={}, headers=AS_SELLER)
    assert reviewed.json()["status"] == "under_review"
    granted = await defects.client.post(
        f"{url}/decision", json={"decision": "granted_seller_funded"}, headers=AS_SELLER
    )
    assert granted.json()["status"] == "decided"
    assert granted.json()["odr_rule"] == "a_to_z.granted_seller_funded"
    assert granted.json()["appeal_deadline"] is not None
    again = await defects.client.post(
        f"{url}/decision", json={"decision": "denied"}, headers=AS_SELLER
    )
    assert again.status_code == 409
    appealed = await defects.client.post(
        f"{url}/appeal", json={"text": "Tracking shows delivery."}, headers=AS_SELLER
    )
    assert appealed.json()["status"] == "appealed"
    won = await defects.client.post(
        f"{url}/appeal-decision", json={"outcome": "overturned"}, headers=AS_SELLER
    )
    final = won.json()
    assert final["status"] == "appeal_decided" and final["counts_toward_odr"] is False
    assert final["odr_rule"] == "a_to_z.appeal_won" and final["allowed_actions"] == []
    assert [h["action"] for h in final["history"]] == [
        "file",
        "request_information",
        "respond",
        "start_review",
        "decide",
        "appeal",
        "decide_appeal",
    ]

    events = await defects_events(defects, oid, 5)
    assert [(e.type, e.aggregateversion) for e in events] == [
        ("claim.filed", 1),
        ("claim.responded", 3),
        ("claim.decided", 5),
        ("claim.appealed", 6),
        ("claim.appeal_decided", 7),
    ]
    last = events[-1]
    assert last.source == "defects" and last.subject == oid
    assert last.data["claim_id"] == claim["id"] and last.data["decision"] == "granted_seller_funded"
    assert last.data["amount"] == {"amount": "39.98", "currency_code": "USD"}


async def test_appeal_after_30_days_answers_409_and_changes_nothing(
    defects: RunningService,
) -> None:
    filed = (datetime.now(UTC) - timedelta(days=40)).isoformat()
    claim = await _file(defects, claim_body(new_order_id(), filed_at=filed))
    url = f"/v1/claims/{claim['id']}"
    long_ago = (datetime.now(UTC) - timedelta(days=31)).isoformat()
    await defects.client.post(
        f"{url}/decision",
        json={"decision": "granted_seller_funded", "decided_at": long_ago},
        headers=AS_SELLER,
    )
    late = await defects.client.post(f"{url}/appeal", json={}, headers=AS_SELLER)
    assert late.status_code == 409 and late.json()["title"] == "Deadline passed"
    assert (await _get(defects, claim["id"]))["status"] == "decided"


async def test_chargeback_deadline_overdue_flag_and_due_before_list(
    defects: RunningService,
) -> None:
    oid = new_order_id()
    filed = datetime.now(UTC) - timedelta(days=8)
    chargeback = await _file(
        defects,
        claim_body(oid, kind="chargeback", reason="not_received", filed_at=filed.isoformat()),
    )
    assert datetime.fromisoformat(chargeback["due_at"]) == filed + timedelta(days=7)
    assert chargeback["overdue"] is True

    events = await defects_events(defects, oid, 2)
    assert [(e.type, e.aggregateversion) for e in events] == [
        ("chargeback.filed", 1),
        ("chargeback.overdue", 2),
    ]
    await asyncio.sleep(0.7)  # the job scans every 0.2 s: it must not flag the same deadline twice
    body = await _get(defects, chargeback["id"])
    assert body["version"] == 2 and [h["action"] for h in body["history"]] == [
        "file",
        "flag_overdue",
    ]

    fresh = await _file(defects, claim_body(oid, kind="chargeback", reason="unauthorized"))
    soon = (datetime.now(UTC) + timedelta(days=10)).isoformat()
    listed = await defects.client.get(
        "/v1/claims", params={"due_before": soon, "amazon_order_id": oid}, headers=AS_SELLER
    )
    assert [c["id"] for c in listed.json()["items"]] == [chargeback["id"], fresh["id"]]
    first = await defects.client.get(
        "/v1/claims",
        params={"due_before": soon, "amazon_order_id": oid, "limit": 1},
        headers=AS_SELLER,
    )
    assert [c["id"] for c in first.json()["items"]] == [chargeback["id"]]
    nxt = await defects.client.get(
        "/v1/claims",
        params={
            "due_before": soon,
            "amazon_order_id": oid,
            "limit": 1,
            "cursor": first.json()["next_cursor"],
        },
        headers=AS_SELLER,
    )
    assert [c["id"] for c in nxt.json()["items"]] == [fresh["id"]]
    assert nxt.json()["next_cursor"] is None
    by_kind = await defects.client.get(
        "/v1/claims", params={"kind": "a_to_z", "amazon_order_id": oid}, headers=AS_SELLER
    )
    assert by_kind.json()["items"] == []


async def test_refund_after_filing_shows_in_packet_and_rule(
    defects: RunningService, producer: AIOKafkaProducer
) -> None:
    oid = new_order_id()
    await publish_order(producer, defects, snapshot(oid))
    claim = await _file(defects, claim_body(oid, reason="not_as_described"))
    refund = RefundIssued(
        amazon_order_id=oid,
        seller_id="A2SELLER1EXAMPLE",
        order_status="Shipped",
        refund_id="R-1",
        reason="CustomerReturn",
        items=(),
        total={"amount": "39.98", "currency_code": "USD"},  # type: ignore[arg-type]
        refunded_at=datetime.now(UTC),
    )
    await publish_fulfillment(producer, defects, "refund.issued", refund, version=3)

    async def refunded() -> dict[str, Any] | None:
        body = await _get(defects, claim["id"])
        return body if body["evidence_packet"]["refunds"] else None

    body = await eventually(refunded, timeout=20)
    assert body["evidence_packet"]["refunded_total"] == {"amount": "39.98", "currency_code": "USD"}
    assert body["odr_rule"] == "a_to_z.refunded_after_filing"


async def test_foreign_sellers_case_is_404_and_unchanged(defects: RunningService) -> None:
    claim = await _file(defects, claim_body(new_order_id()))
    url = f"/v1/claims/{claim['id']}"
    assert (await defects.client.get(url, headers=AS_OTHER)).status_code == 404
    denied = await defects.client.post(
        f"{url}/decision", json={"decision": "denied"}, headers=AS_OTHER
    )
    assert denied.status_code == 404
    assert (await _get(defects, claim["id"]))["status"] == "open"
    other_list = await defects.client.get("/v1/claims", headers=AS_OTHER)
    assert claim["id"] not in [c["id"] for c in other_list.json()["items"]]
    ops = await defects.client.get(url, headers=AS_OPS)
    assert ops.status_code == 200
    ops_write = await defects.client.post(
        f"{url}/decision", json={"decision": "denied"}, headers=AS_OPS
    )
    assert ops_write.status_code == 403


async def test_claim_on_another_sellers_known_order_is_taken_as_on_an_unknown_one(
    defects: RunningService, producer: AIOKafkaProducer
) -> None:
    """Filing on an order id another seller holds answers as filing on an id nobody has (the
    answer does not tell that the id exists), and the case is never linked to that order."""
    oid = new_order_id()
    await publish_order(producer, defects, snapshot(oid, seller_id=OTHER_SELLER))
    theirs = await defects.client.post("/v1/claims", json=claim_body(oid), headers=AS_OTHER)
    assert theirs.status_code == 201, theirs.text

    async def linked() -> bool:
        r = await defects.client.get(f"/v1/claims/{theirs.json()['id']}", headers=AS_OTHER)
        return bool(r.json()["order"]["known"])

    await eventually(linked, timeout=20)
    unknown = new_order_id()
    filed_at = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    foreign_claim = await _file(defects, claim_body(oid, filed_at=filed_at))
    unknown_claim = await _file(defects, claim_body(unknown, filed_at=filed_at))

    def shape(claim: dict[str, Any], asked: str) -> str:
        fixed = {**claim, "id": "{id}", "version": None, "due_at": None, "history": None}
        return str(fixed).replace(asked, "{order}")

    assert shape(foreign_claim, oid) == shape(unknown_claim, unknown)
    assert OTHER_SELLER not in str(foreign_claim)
    assert foreign_claim["order"]["known"] is False
    assert foreign_claim["evidence_packet"]["order"] is None
    mine = (await defects.client.get("/v1/problem-orders", headers=AS_OTHER)).json()["items"]
    [entry] = [o for o in mine if o["amazon_order_id"] == oid]
    assert [c["id"] for c in entry["cases"]] == [theirs.json()["id"]]  # never the other's case


@pytest.mark.parametrize(
    ("override", "field"),
    [
        ({"kind": "a_to_y"}, "body.kind"),
        ({"reason": "unauthorized"}, "body.reason"),
        ({"amazon_order_id": "12-3"}, "body.amazon_order_id"),
        ({"amount": {"amount": 12.5, "currency_code": "USD"}}, "body.amount.amount"),
        ({"amount": {"amount": "1,50", "currency_code": "USD"}}, "body.amount.amount"),
        ({"amount": {"amount": "1.50", "currency_code": "usd"}}, "body.amount.currency_code"),
        ({"filed_at": "2026-11-20T10:00:00"}, "body.filed_at"),
        ({"filed_at": "2999-01-01T00:00:00Z"}, "body.filed_at"),
    ],
)
async def test_bad_input_is_4xx_naming_the_field(
    defects: RunningService, override: dict[str, Any], field: str
) -> None:
    body = {**claim_body(new_order_id()), **override}
    response = await defects.client.post("/v1/claims", json=body, headers=AS_SELLER)
    assert response.status_code == 422, response.text
    assert field in [e["field"] for e in response.json()["errors"]]


async def test_bad_decision_and_unknown_claim(defects: RunningService) -> None:
    claim = await _file(defects, claim_body(new_order_id()))
    bad = await defects.client.post(
        f"/v1/claims/{claim['id']}/decision", json={"decision": "maybe"}, headers=AS_SELLER
    )
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "body.decision"
    missing = await defects.client.get(
        "/v1/claims/00000000-0000-4000-8000-000000000000", headers=AS_SELLER
    )
    assert missing.status_code == 404
    naive = await defects.client.get(
        "/v1/claims", params={"due_before": "2026-01-01T00:00:00"}, headers=AS_SELLER
    )
    assert naive.status_code == 422 and naive.json()["errors"][0]["field"] == "query.due_before"


async def test_unanswered_information_request_is_flagged_overdue_by_the_job_with_a_moved_clock(
    defects: RunningService,
) -> None:
    oid = new_order_id()
    claim = await _file(defects, claim_body(oid))
    url = f"/v1/claims/{claim['id']}"
    asked = await defects.client.post(f"{url}/information-requests", json={}, headers=AS_SELLER)
    due = datetime.fromisoformat(asked.json()["due_at"])
    assert asked.json()["overdue"] is False

    defects.resources.deps.clock = lambda: due + timedelta(minutes=1)
    events = await defects_events(defects, oid, 2)
    assert [(e.type, e.aggregateversion) for e in events] == [
        ("claim.filed", 1),
        ("claim.overdue", 3),
    ]
    assert datetime.fromisoformat(events[1].data["due_at"]) == due
    body = await _get(defects, claim["id"])
    assert body["overdue"] is True and body["status"] == "information_requested"
    late_answer = await defects.client.post(
        f"{url}/responses", json={"text": "Sorry, here it is."}, headers=AS_SELLER
    )
    assert late_answer.json()["overdue"] is False and late_answer.json()["due_at"] is None


async def _filed_events(svc: RunningService, amazon_order_id: str) -> int:
    """How many events this service queued for the order (its outbox, not yet on Kafka or not)."""
    outbox = svc.resources.tables.outbox
    stmt = (
        select(func.count())
        .select_from(outbox)
        .where(outbox.c.message_key == amazon_order_id, outbox.c.event_type == "claim.filed")
    )
    async with svc.resources.sessions() as session:
        return int((await session.execute(stmt)).scalar_one())


async def test_the_same_claim_filed_twice_is_one_case_and_a_conflicting_one_is_refused(
    defects: RunningService,
) -> None:
    oid = new_order_id()
    body = claim_body(oid)
    first = await _file(defects, body)
    again = await defects.client.post("/v1/claims", json=body, headers=AS_SELLER)
    assert again.status_code == 200, again.text  # a retry: the case as it is, not a new one
    assert again.json()["id"] == first["id"]
    assert again.headers["location"] == f"/v1/claims/{first['id']}"

    # Two copies of another filing at once (a client retrying before its first answer).
    other = claim_body(oid, filed_at=(datetime.now(UTC) - timedelta(minutes=5)).isoformat())
    answers = await asyncio.gather(
        *(defects.client.post("/v1/claims", json=other, headers=AS_SELLER) for _ in range(2))
    )
    assert sorted(a.status_code for a in answers) == [200, 201]
    assert answers[0].json()["id"] == answers[1].json()["id"] != first["id"]

    # Same order, kind and filing time, other details: not the same claim, and not a new one.
    conflicting = dict(body, reason="not_as_described")
    refused = await defects.client.post("/v1/claims", json=conflicting, headers=AS_SELLER)
    assert refused.status_code == 409, refused.text
    assert first["id"] in refused.json()["detail"]

    listed = await defects.client.get(
        "/v1/claims", params={"amazon_order_id": oid}, headers=AS_SELLER
    )
    assert len(listed.json()["items"]) == 2
    assert await _filed_events(defects, oid) == 2  # one claim.filed per case

    # Another seller's identical body is not this seller's retry (the order is not known here
    # yet, so either may file for it): a case of their own.
    theirs = await defects.client.post("/v1/claims", json=body, headers=AS_OTHER)
    assert theirs.status_code == 201, theirs.text
    assert theirs.json()["id"] != first["id"]
