"""Refunds with an ``Idempotency-Key``: a retry answers the first response and refunds nothing
more; another request under the key is refused; concurrent attempts make one refund; keys are
kept per seller; the rules for an attempt that died (docs/adr/0040-idempotency-keys.md)."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest
from sqlalchemy import func, insert, select, text

from orderflow_testkit.harness import RunningService, eventually
from shared.api.idempotency import fingerprint
from tests.fulfillment.conftest import (
    AS_OTHER,
    AS_SELLER,
    OTHER_SELLER,
    SELLER,
    apply,
    outbox_events,
)
from tests.fulfillment.conftest import snapshot as order_snapshot

pytestmark = pytest.mark.integration

UPS = "1Z999AA10123456784"
PROBLEMS = "urn:orderflow:problem:"


async def _shipped(svc: RunningService, *, seller: str | None = None) -> tuple[str, str]:
    snap = order_snapshot(**({"seller_id": seller} if seller else {}))
    await apply(svc, snap)
    headers = AS_OTHER if seller == OTHER_SELLER else AS_SELLER
    shipped = await svc.client.post(
        f"/v1/orders/{snap.amazon_order_id}/shipments",
        json={"carrier_code": "UPS", "tracking_number": UPS, "ship_date": _now()},
        headers=headers,
    )
    assert shipped.status_code == 201, shipped.text
    return snap.amazon_order_id, snap.items[0].order_item_id


def _now() -> str:
    return datetime.now(UTC).isoformat()


def _partial(item: str, amount: str) -> dict[str, Any]:
    return {"reason": "PriceError", "items": [{"order_item_id": item, "amount": amount}]}


async def _refund(
    svc: RunningService, oid: str, body: dict[str, Any], key: str, headers: dict[str, str]
) -> Any:
    return await svc.client.post(
        f"/v1/orders/{oid}/refunds",
        content=orjson.dumps(body),
        headers={**headers, "Idempotency-Key": key, "Content-Type": "application/json"},
    )


async def _refunds(svc: RunningService, oid: str) -> list[str]:
    events = await outbox_events(svc, oid)
    return [e.data["total"]["amount"] for e in events if e.type == "refund.issued"]


async def test_a_retried_refund_is_made_once_and_answered_the_same(
    fulfillment: RunningService,
) -> None:
    oid, item = await _shipped(fulfillment)
    key = str(uuid.uuid4())
    first = await _refund(fulfillment, oid, _partial(item, "5.50"), key, AS_SELLER)
    again = await _refund(fulfillment, oid, _partial(item, "5.50"), key, AS_SELLER)
    assert first.status_code == again.status_code == 201, first.text
    assert again.content == first.content
    assert again.headers["content-type"] == first.headers["content-type"]
    assert again.headers["idempotent-replayed"] == "true"
    assert "idempotent-replayed" not in first.headers
    assert await _refunds(fulfillment, oid) == ["5.50"]
    detail = await fulfillment.client.get(f"/v1/orders/{oid}", headers=AS_SELLER)
    assert detail.json()["refunded_total"] == "5.50"
    other_key = await _refund(fulfillment, oid, _partial(item, "5.50"), "another", AS_SELLER)
    assert other_key.status_code == 201  # a new key is a new refund
    assert await _refunds(fulfillment, oid) == ["5.50", "5.50"]


async def test_the_same_key_with_another_amount_is_refused(fulfillment: RunningService) -> None:
    oid, item = await _shipped(fulfillment)
    key = str(uuid.uuid4())
    assert (await _refund(fulfillment, oid, _partial(item, "5.50"), key, AS_SELLER)).is_success
    other = await _refund(fulfillment, oid, _partial(item, "6.00"), key, AS_SELLER)
    assert other.status_code == 422
    assert other.headers["content-type"] == "application/problem+json"
    assert other.json()["type"] == PROBLEMS + "idempotency-key-reused"
    assert key in other.json()["detail"]
    elsewhere = await fulfillment.client.post(
        f"/v1/orders/{oid}/cancellation",
        json={"reason": "NoInventory"},
        headers={**AS_SELLER, "Idempotency-Key": key},
    )
    assert elsewhere.status_code == 422  # another route is another request
    assert await _refunds(fulfillment, oid) == ["5.50"]


async def test_concurrent_requests_with_one_key_make_one_refund(
    fulfillment: RunningService,
) -> None:
    oid, item = await _shipped(fulfillment)
    key = str(uuid.uuid4())
    answers = await asyncio.gather(
        *(_refund(fulfillment, oid, _partial(item, "5.50"), key, AS_SELLER) for _ in range(4))
    )
    assert sorted({a.status_code for a in answers}) in ([201], [201, 409])
    made = [a for a in answers if a.status_code == 201]
    assert len({a.content for a in made}) == 1
    for refused in (a for a in answers if a.status_code == 409):
        assert refused.json()["type"] == PROBLEMS + "idempotency-key-in-progress"
    assert await _refunds(fulfillment, oid) == ["5.50"]


async def test_a_second_attempt_while_the_first_runs_is_refused_with_409(
    fulfillment: RunningService,
) -> None:
    oid, item = await _shipped(fulfillment)
    key = str(uuid.uuid4())
    async with fulfillment.resources.sessions() as blocker, blocker.begin():
        # The first attempt claims its key, then waits for this lock on the order.
        await blocker.execute(
            text("SELECT 1 FROM orders WHERE amazon_order_id = :oid FOR UPDATE"), {"oid": oid}
        )
        first = asyncio.ensure_future(
            _refund(fulfillment, oid, _partial(item, "5.50"), key, AS_SELLER)
        )
        await eventually(lambda: _claimed(fulfillment, key))
        second = await _refund(fulfillment, oid, _partial(item, "5.50"), key, AS_SELLER)
        assert second.status_code == 409
        assert second.json()["type"] == PROBLEMS + "idempotency-key-in-progress"
    assert (await first).status_code == 201
    third = await _refund(fulfillment, oid, _partial(item, "5.50"), key, AS_SELLER)
    assert third.status_code == 201 and third.content == (await first).content
    assert await _refunds(fulfillment, oid) == ["5.50"]


async def _claimed(svc: RunningService, key: str) -> bool:
    table = svc.resources.tables.idempotency_keys
    async with svc.resources.sessions() as session:
        stmt = select(func.count()).select_from(table).where(table.c.key == key)
        return bool((await session.execute(stmt)).scalar_one())


async def test_a_key_of_one_seller_never_answers_another(fulfillment: RunningService) -> None:
    mine, my_item = await _shipped(fulfillment)
    theirs, their_item = await _shipped(fulfillment, seller=OTHER_SELLER)
    key = str(uuid.uuid4())
    assert (await _refund(fulfillment, mine, _partial(my_item, "5.50"), key, AS_SELLER)).is_success
    foreign = await _refund(fulfillment, mine, _partial(my_item, "5.50"), key, AS_OTHER)
    assert foreign.status_code == 404  # another seller's order, not the first answer replayed
    assert "idempotent-replayed" not in foreign.headers
    own = await _refund(fulfillment, theirs, _partial(their_item, "7.00"), key, AS_OTHER)
    assert own.status_code == 201 and own.json()["total"] == "7.00"
    assert await _refunds(fulfillment, mine) == ["5.50"]
    assert await _refunds(fulfillment, theirs) == ["7.00"]


async def test_a_request_that_changed_nothing_leaves_its_key_free(
    fulfillment: RunningService,
) -> None:
    snap = order_snapshot()
    await apply(fulfillment, snap)
    oid, item = snap.amazon_order_id, snap.items[0].order_item_id
    key = str(uuid.uuid4())
    early = await _refund(fulfillment, oid, _partial(item, "5.50"), key, AS_SELLER)
    assert early.status_code == 409 and "cancel the order" in early.json()["detail"]
    assert not await _claimed(fulfillment, key)
    shipped = await fulfillment.client.post(
        f"/v1/orders/{oid}/shipments",
        json={"carrier_code": "UPS", "tracking_number": UPS, "ship_date": _now()},
        headers=AS_SELLER,
    )
    assert shipped.status_code == 201
    later = await _refund(fulfillment, oid, _partial(item, "5.50"), key, AS_SELLER)
    assert later.status_code == 201
    assert await _refunds(fulfillment, oid) == ["5.50"]


async def test_an_attempt_that_died_before_its_work_committed_is_run_again(
    fulfillment: RunningService,
) -> None:
    oid, item = await _shipped(fulfillment)
    key = str(uuid.uuid4())
    await _died_holding(fulfillment, oid, _partial(item, "5.50"), key, committed=False)
    retry = await _refund(fulfillment, oid, _partial(item, "5.50"), key, AS_SELLER)
    assert retry.status_code == 201, retry.text
    assert await _refunds(fulfillment, oid) == ["5.50"]


async def test_an_attempt_that_died_after_its_work_committed_is_never_run_again(
    fulfillment: RunningService,
) -> None:
    oid, item = await _shipped(fulfillment)
    key = str(uuid.uuid4())
    await _died_holding(fulfillment, oid, _partial(item, "5.50"), key, committed=True)
    retry = await _refund(fulfillment, oid, _partial(item, "5.50"), key, AS_SELLER)
    assert retry.status_code == 409
    assert retry.json()["type"] == PROBLEMS + "idempotency-key-response-lost"
    assert await _refunds(fulfillment, oid) == []


async def _died_holding(
    svc: RunningService, oid: str, body: dict[str, Any], key: str, *, committed: bool
) -> None:
    """The key as an attempt that died leaves it: its lease over, no response kept, and its
    work committed or not."""
    path = f"/v1/orders/{oid}/refunds"
    table = svc.resources.tables.idempotency_keys
    row = {
        "scope": f"seller:{SELLER}",
        "key": key,
        "fingerprint": fingerprint(
            method="POST",
            path=path,
            query="",
            content_type="application/json",
            body=orjson.dumps(body),
        ),
        "method": "POST",
        "path": path,
        "owner": uuid.uuid4(),
        "locked_until": func.now(),
        "committed_at": func.now() if committed else None,
    }
    async with svc.resources.sessions() as session, session.begin():
        await session.execute(insert(table).values(row))
