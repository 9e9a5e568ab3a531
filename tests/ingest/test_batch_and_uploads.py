"""Batches answer per order; flat-file uploads run as jobs with progress and row errors."""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

import pytest
from sqlalchemy import event, text

from orderflow_testkit.harness import RunningService, eventually
from orderflow_testkit.samples import amazon_order

from .conftest import REFUSED_BY_POSTGRES, make_postgres_refuse

pytestmark = pytest.mark.integration

SELLER_KEY = {"Authorization": "Bearer seller-key"}
OTHER_KEY = {"Authorization": "Bearer other-key"}

HEADER = (
    "amazon-order-id\tmerchant-order-id\tpurchase-date\tlast-updated-date\torder-status\t"
    "fulfillment-channel\tsales-channel\tship-service-level\tproduct-name\tsku\tasin\t"
    "quantity\tcurrency\titem-price\titem-tax\tshipping-price\tship-city\tship-state\t"
    "ship-postal-code\tship-country"
)


def _row(order_id: str, sku: str, quantity: str = "1", price: str = "10.00") -> str:
    return "\t".join(
        [
            order_id,
            "",
            "2026-11-20T10:00:00+00:00",
            "2026-11-20T11:00:00+00:00",
            "Shipped",
            "Merchant",
            "Amazon.com",
            "Standard",
            "Mug",
            sku,
            "B000000001",
            quantity,
            "USD",
            price,
            "0.80",
            "4.99",
            "Seattle",
            "WA",
            "98101",
            "US",
        ]
    )


async def test_batch_answers_per_order_and_a_bad_order_does_not_stop_the_good(
    ingest: RunningService,
) -> None:
    good = [amazon_order() for _ in range(3)]
    bad = amazon_order(amazon_order_id="not-an-id")
    response = await ingest.client.post(
        "/v1/orders/batch",
        json={"orders": [good[0], bad, good[1], good[2], good[0]]},
        headers=SELLER_KEY,
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["accepted"], body["rejected"]) == (4, 1)
    results = [(r["index"], r["result"], r["status"]) for r in body["results"]]
    assert results == [
        (0, "created", 201),
        (1, "rejected", 422),
        (2, "created", 201),
        (3, "created", 201),
        (4, "unchanged", 200),
    ]
    assert body["results"][1]["errors"][0]["field"] == "AmazonOrderId"
    for order in good:
        got = await ingest.client.get(f"/v1/orders/{order['AmazonOrderId']}", headers=SELLER_KEY)
        assert got.status_code == 200


async def test_batch_applies_repeats_in_order_and_isolates_what_postgres_refuses(
    ingest: RunningService,
) -> None:
    """One batch: an order and its newer version, another seller's order, an order with NUL
    in its text (the input policy refuses it, naming the fields), and an order PostgreSQL will
    not store. The set-based path falls back to one by one, so only the refused orders are
    rejected; the two versions come out as created then updated."""
    await make_postgres_refuse(ingest)
    taken = amazon_order()
    assert (
        await ingest.client.post("/v1/orders", json=taken, headers=OTHER_KEY)
    ).status_code == 201
    first = amazon_order()
    newer = {**first, "LastUpdateDate": "2099-01-01T00:00:00Z", "OrderStatus": "Shipped"}
    nul = amazon_order(BuyerInfo={"BuyerEmail": "a@example.com", "BuyerName": "x\u0000y"})
    nul["OrderItems"][0]["Title"] = "mug\u0000"
    refused = amazon_order(SellerOrderId=REFUSED_BY_POSTGRES)
    plain = amazon_order()
    response = await ingest.client.post(
        "/v1/orders/batch",
        json={"orders": [first, taken, newer, nul, refused, plain]},
        headers=SELLER_KEY,
    )
    assert response.status_code == 200, response.text
    results = [(r["result"], r.get("version"), r["status"]) for r in response.json()["results"]]
    assert results == [
        ("created", 1, 201),
        ("rejected", None, 409),
        ("updated", 2, 200),
        ("rejected", None, 422),
        ("rejected", None, 422),
        ("created", 1, 201),
    ]
    nul_errors = response.json()["results"][3]["errors"]
    assert {e["field"] for e in nul_errors} == {"BuyerInfo.BuyerName", "OrderItems.0.Title"}
    assert "database refused" in response.json()["results"][4]["errors"][0]["message"]
    held = (
        await ingest.client.get(f"/v1/orders/{first['AmazonOrderId']}", headers=SELLER_KEY)
    ).json()
    assert (held["version"], held["order_status"]) == (2, "Shipped")
    assert [(e["type"], e["version"]) for e in held["events"]] == [
        ("order.created", 1),
        ("order.updated", 2),
    ]
    gone = await ingest.client.get(f"/v1/orders/{refused['AmazonOrderId']}", headers=SELLER_KEY)
    assert gone.status_code == 404
    quarantined = await ingest.client.get(
        "/v1/quarantine", params={"amazon_order_id": refused["AmazonOrderId"]}, headers=SELLER_KEY
    )
    assert quarantined.json()["items"], quarantined.text


async def test_two_requests_racing_to_create_the_same_orders_create_each_once(
    ingest: RunningService,
) -> None:
    """Two batches at once that share 40 new orders, each with 20 more of its own: both read
    that none exists, one inserts first, and the other's insert finds the shared ones taken. That
    request's transaction is rolled back, its own new orders with it, and read again (no
    savepoint: the batch is all it holds): every order is created once, with one
    ``order.created`` event; had the rollback kept the loser's own inserts, its second pass
    would find them and call them unchanged, with no event."""
    locked_reads: list[str] = []

    def executed(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if "FROM orders" in statement and "FOR UPDATE" in statement:
            locked_reads.append(statement)

    shared = [amazon_order() for _ in range(40)]
    own = [[amazon_order() for _ in range(20)] for _ in range(2)]
    engine = ingest.resources.engine.sync_engine
    event.listen(engine, "before_cursor_execute", executed)
    try:
        answers = await asyncio.gather(
            *(
                ingest.client.post("/v1/orders/batch", json={"orders": orders}, headers=SELLER_KEY)
                for orders in (shared + own[0], shared + own[1])
            )
        )
    finally:
        event.remove(engine, "before_cursor_execute", executed)
    assert [a.status_code for a in answers] == [200, 200], [a.text for a in answers]
    # Two requests, one locked read each, and one more for the request that lost the race.
    assert len(locked_reads) > 2, "the two requests did not race; the test proves nothing"
    results = Counter(r["result"] for a in answers for r in a.json()["results"])
    assert results == Counter(created=80, unchanged=40)
    every = shared + own[0] + own[1]
    async with ingest.resources.engine.connect() as conn:
        rows = await conn.execute(
            text(
                "SELECT message_key, count(*) FROM outbox "
                "WHERE message_key = ANY(:ids) AND event_type = 'order.created' "
                "GROUP BY message_key"
            ),
            {"ids": [o["AmazonOrderId"] for o in every]},
        )
        assert dict(rows.all()) == {o["AmazonOrderId"]: 1 for o in every}


async def test_batch_over_the_limit_is_refused_whole(ingest: RunningService) -> None:
    orders = [amazon_order() for _ in range(1001)]
    response = await ingest.client.post(
        "/v1/orders/batch", json={"orders": orders}, headers=SELLER_KEY
    )
    assert response.status_code == 413
    assert "1000" in response.json()["detail"]
    missing = await ingest.client.get(
        f"/v1/orders/{orders[0]['AmazonOrderId']}", headers=SELLER_KEY
    )
    assert missing.status_code == 404


async def test_an_order_id_of_another_seller_is_refused_without_naming_it(
    ingest: RunningService,
) -> None:
    order = amazon_order()
    assert (
        await ingest.client.post("/v1/orders", json=order, headers=SELLER_KEY)
    ).status_code == 201
    taken = await ingest.client.post("/v1/orders", json=order, headers=OTHER_KEY)
    assert taken.status_code == 409
    assert "A2SELLER1EXAMPLE" not in taken.text
    hidden = await ingest.client.get(f"/v1/orders/{order['AmazonOrderId']}", headers=OTHER_KEY)
    assert hidden.status_code == 404


async def test_auth_rules(ingest: RunningService) -> None:
    order = amazon_order()
    assert (await ingest.client.post("/v1/orders", json=order)).status_code == 401
    bad_key = {"Authorization": "Bearer nope"}
    assert (await ingest.client.post("/v1/orders", json=order, headers=bad_key)).status_code == 401
    ops = {"Authorization": "Bearer ops-key"}
    assert (await ingest.client.post("/v1/orders", json=order, headers=ops)).status_code == 403
    system = {"Authorization": "Bearer sys-key"}
    no_seller = await ingest.client.post("/v1/orders", json=order, headers=system)
    assert no_seller.status_code == 400
    named = await ingest.client.post(
        "/v1/orders", json=order, headers={**system, "X-Seller-Id": "A9SYSTEMSELLER"}
    )
    assert named.status_code == 201
    seen = await ingest.client.get(f"/v1/orders/{order['AmazonOrderId']}", headers=ops)
    assert seen.json()["seller_id"] == "A9SYSTEMSELLER"


async def _upload_done(svc: RunningService, upload_id: str) -> dict[str, Any] | None:
    body: dict[str, Any] = (
        await svc.client.get(f"/v1/uploads/{upload_id}", headers=SELLER_KEY)
    ).json()
    return body if body["status"] == "done" else None


async def test_upload_runs_as_a_job_with_row_errors_and_twice_creates_no_duplicates(
    ingest: RunningService,
) -> None:
    content = "\n".join(
        [
            HEADER,
            _row("902-1111111-0000001", "SKU-A"),
            _row("902-1111111-0000001", "SKU-B", quantity="2"),
            _row("902-1111111-0000002", "SKU-A", price="ten"),
            _row("902-1111111-0000003", "SKU-C"),
        ]
    ).encode()
    files = {"file": ("orders.txt", content, "text/tab-separated-values")}
    created = await ingest.client.post("/v1/uploads", files=files, headers=SELLER_KEY)
    assert created.status_code == 202, created.text
    upload_id = created.json()["upload_id"]
    done = await eventually(lambda: _upload_done(ingest, upload_id))
    assert (done["rows_total"], done["rows_processed"]) == (4, 4)
    assert (done["rows_accepted"], done["rows_rejected"]) == (3, 1)
    assert done["percent_done"] == 100.0
    [error] = done["errors"]
    assert error["rows"] == [4] and error["amazon_order_id"] == "902-1111111-0000002"
    assert error["errors"][0]["field"] == "OrderItems.0.ItemPrice.Amount"

    order = (await ingest.client.get("/v1/orders/902-1111111-0000001", headers=SELLER_KEY)).json()
    assert order["intake_source"] == "upload" and len(order["order"]["items"]) == 2
    # item-price is the line total in the report: (10.00 + 0.80 tax + 4.99 shipping) x 2 rows
    assert order["order"]["order_total"]["amount"] == "31.58"

    again = await ingest.client.post("/v1/uploads", files=files, headers=SELLER_KEY)
    assert again.status_code == 200
    assert again.json()["upload_id"] == upload_id and again.json()["duplicate"] is True
    quarantined = (
        await ingest.client.get("/v1/quarantine?source=upload", headers=SELLER_KEY)
    ).json()["items"]
    assert [q["amazon_order_id"] for q in quarantined] == ["902-1111111-0000002"]


async def test_unreadable_upload_is_422(ingest: RunningService) -> None:
    response = await ingest.client.post(
        "/v1/uploads",
        content=b"just,some,columns\n1,2,3\n",
        headers={**SELLER_KEY, "content-type": "text/csv"},
    )
    assert response.status_code == 422
    assert "amazon-order-id" in response.json()["detail"]
