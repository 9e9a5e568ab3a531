"""Buyer PII removed PII_RETENTION_DAYS after an order ships or is canceled.

Ingest and fulfillment run in-process on real Kafka and PostgreSQL, orders flowing between
them. Time is moved by backdating what Amazon reports (LastUpdateDate), by backdating rows in
the database, or by calling the purge with a later ``now`` (the injected clock).
"""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest
from sqlalchemy import text

from fulfillment.adapters import pii_purge as fulfillment_purge
from fulfillment.bootstrap import SPEC as FULFILLMENT
from fulfillment.settings import FulfillmentSettings
from ingest.bootstrap import SPEC as INGEST
from ingest.intake.adapters import pii_purge as ingest_purge
from ingest.settings import IngestSettings
from orderflow_testkit.harness import RunningService, eventually, running_service
from orderflow_testkit.samples import amazon_order
from shared.pii_retention import Stores, purge_once

from .conftest import KEYS, PII_KEY

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]

A = {"Authorization": "Bearer k-seller"}
DAYS = 30


@pytest.fixture
async def pair(
    make_database: Callable[[str], str],
    kafka_bootstrap: str,
    topic_prefix: str,
    monkeypatch: pytest.MonkeyPatch,
) -> AsyncIterator[tuple[RunningService, RunningService]]:
    # The background job (as wired in each ServiceSpec) runs every 0.2 s in these tests.
    monkeypatch.setenv("PII_PURGE_INTERVAL_SECONDS", "0.2")
    monkeypatch.setenv("PII_RETENTION_DAYS", str(DAYS))
    common: dict[str, Any] = {
        "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
        "KAFKA_TOPIC_PREFIX": f"{topic_prefix}ret{secrets.token_hex(3)}.",
        "ORDERFLOW_API_KEYS": KEYS,
        "ORDERFLOW_PII_KEY": PII_KEY,
    }
    ingest_settings = IngestSettings(DATABASE_URL=make_database("ingest_ret"), **common)
    fulfillment_settings = FulfillmentSettings(
        DATABASE_URL=make_database("fulfillment_ret"), **common
    )
    async with contextlib.AsyncExitStack() as stack:
        ingest = await stack.enter_async_context(
            running_service(INGEST, ingest_settings, roles=("relay", "background"))
        )
        fulfillment = await stack.enter_async_context(
            running_service(
                FULFILLMENT, fulfillment_settings, roles=("worker", "relay", "background")
            )
        )
        yield ingest, fulfillment


def _ago(days: float) -> datetime:
    return datetime.now(UTC) - timedelta(days=days)


async def _post(ingest: RunningService, order: dict[str, Any]) -> str:
    response = await ingest.client.post("/v1/orders", json=order, headers=A)
    assert response.status_code in (200, 201), response.text
    return str(order["AmazonOrderId"])


async def _fulfillment_order(svc: RunningService, oid: str) -> dict[str, Any]:
    async def found() -> dict[str, Any] | None:
        r = await svc.client.get(f"/v1/orders/{oid}", headers=A)
        return r.json() if r.status_code == 200 else None

    body: dict[str, Any] = await eventually(found, timeout=60)
    return body


def _flat_file() -> str:
    header = (
        "amazon-order-id\tmerchant-order-id\tpurchase-date\tlast-updated-date\torder-status\t"
        "fulfillment-channel\tsales-channel\tship-service-level\tproduct-name\tsku\tasin\t"
        "quantity\tcurrency\titem-price\titem-tax\tshipping-price\tship-city\tship-state\t"
        "ship-postal-code\tship-country"
    )
    row = [
        "902-5555555-0000001",
        "",
        "2026-11-20T10:00:00+00:00",
        "2026-11-20T11:00:00+00:00",
        "Unshipped",
        "MFN",
        "Amazon.com",
        "Standard",
        "Mug",
        "SKU-A",
        "B08N5WRWNW",
        "1",
        "USD",
        "10.00",
        "0.00",
        "0.00",
        "Seattle",
        "WA",
        "98101",
        "US",
    ]
    return f"{header}\n" + "\t".join(row) + "\n"


async def _scalar(svc: RunningService, sql: str, **params: Any) -> Any:
    async with svc.resources.sessions() as session:
        return (await session.execute(text(sql), params)).scalar()


async def _execute(svc: RunningService, sql: str, **params: Any) -> None:
    async with svc.resources.sessions() as session, session.begin():
        await session.execute(text(sql), params)


async def test_pii_of_orders_closed_long_ago_is_removed_from_ingest_and_fulfillment(
    pair: tuple[RunningService, RunningService],
) -> None:
    ingest, fulfillment = pair
    # Shipped 40 days ago (due), shipped yesterday (kept), unshipped for 40 days (kept),
    # canceled 40 days ago (due), and one the seller ships today in fulfillment.
    old_shipped = await _post(
        ingest, amazon_order(status="Shipped", purchased=_ago(45), updated=_ago(40))
    )
    new_shipped = await _post(
        ingest, amazon_order(status="Shipped", purchased=_ago(3), updated=_ago(1))
    )
    open_old = await _post(ingest, amazon_order(purchased=_ago(41), updated=_ago(40)))
    canceled_old = await _post(
        ingest, amazon_order(status="Canceled", purchased=_ago(45), updated=_ago(40))
    )
    shipped_today = await _post(ingest, amazon_order())
    for oid in (old_shipped, new_shipped, open_old, canceled_old, shipped_today):
        await _fulfillment_order(fulfillment, oid)
    shipped = await fulfillment.client.post(
        f"/v1/orders/{shipped_today}/shipments",
        json={
            "carrier_code": "UPS",
            "tracking_number": "1Z999AA10123456784",
            "ship_date": datetime.now(UTC).isoformat(),
        },
        headers=A,
    )
    assert shipped.status_code == 201, shipped.text

    # The background jobs (interval 0.2 s) remove what is due, and only that.
    async def ingest_status(oid: str) -> str:
        r = await ingest.client.get(f"/v1/orders/{oid}", headers=A)
        return str(r.json()["pii_status"])

    seen: list[Any] = []

    async def old_ones_removed() -> bool:
        fulfilled = [
            (await fulfillment.client.get(f"/v1/orders/{o}", headers=A)).json()["pii_status"]
            for o in (old_shipped, canceled_old)
        ]
        at_ingest = [await ingest_status(o) for o in (old_shipped, canceled_old)]
        seen[:] = [fulfilled, at_ingest]
        return fulfilled == at_ingest == ["removed", "removed"]

    try:
        await eventually(old_ones_removed, timeout=60)
    except AssertionError as exc:
        raise AssertionError(f"fulfillment, ingest: {seen}") from exc
    for oid in (new_shipped, open_old, shipped_today):
        assert await ingest_status(oid) == "held", oid
        assert (await _fulfillment_order(fulfillment, oid))["pii_status"] == "held", oid

    # What is left in the stores: no sealed PII, no e-mail hash; the order itself stays.
    assert (
        await _scalar(
            ingest,
            "SELECT snapshot ? 'buyer_pii' FROM orders WHERE amazon_order_id = :o",
            o=old_shipped,
        )
        is False
    )
    assert await _scalar(
        ingest,
        "SELECT pii_removed_at IS NOT NULL FROM orders WHERE amazon_order_id = :o",
        o=old_shipped,
    )
    row = await _scalar(
        fulfillment,
        "SELECT jsonb_build_array(doc -> 'buyer_pii', buyer_email_hash, doc -> 'buyer_email_hash')"
        " FROM orders WHERE amazon_order_id = :o",
        o=old_shipped,
    )
    assert row == [None, None, None]
    assert await _scalar(
        fulfillment,
        "SELECT buyer_email_hash IS NOT NULL FROM orders WHERE amazon_order_id = :o",
        o=new_shipped,
    )
    view = await _fulfillment_order(fulfillment, old_shipped)
    assert view["pii_removed_at"] is not None and view["status"] == "Shipped"

    # The packing slip of a purged order is gone; a kept one still prints.
    gone = await fulfillment.client.get(f"/v1/orders/{old_shipped}/packing-slip", headers=A)
    assert gone.status_code == 410, gone.text
    assert gone.headers["content-type"].startswith("application/problem+json")
    assert "removed" in gone.json()["detail"] and "PII_RETENTION_DAYS" in gone.json()["detail"]
    kept = await fulfillment.client.get(f"/v1/orders/{new_shipped}/packing-slip", headers=A)
    assert kept.status_code == 200 and kept.content.startswith(b"%PDF")

    # A later snapshot (Amazon updates the order) does not bring the PII back in fulfillment.
    before = view["version"]
    await _post(
        ingest,
        amazon_order(
            amazon_order_id=old_shipped,
            status="Shipped",
            purchased=_ago(45),
            updated=_ago(39),
        ),
    )

    async def updated() -> bool:
        r = await fulfillment.client.get(f"/v1/orders/{old_shipped}", headers=A)
        return bool(r.json()["version"] > before or r.json()["pii_status"] != "removed")

    await eventually(updated, timeout=60)
    again = await _fulfillment_order(fulfillment, old_shipped)
    assert again["pii_status"] == "removed"
    assert (
        await _scalar(
            fulfillment,
            "SELECT buyer_email_hash FROM orders WHERE amazon_order_id = :o",
            o=old_shipped,
        )
        is None
    )

    # The injected clock: 31 days on, the order shipped today and the canceled one are due.
    counts = await purge_once(
        fulfillment.resources.sessions,
        fulfillment_purge.STATEMENTS,
        now=datetime.now(UTC) + timedelta(days=DAYS + 1),
        days=DAYS,
        batch=1,
    )
    assert counts["orders"] >= 2  # new_shipped and shipped_today (batches of 1)
    for oid in (new_shipped, shipped_today):
        assert (await _fulfillment_order(fulfillment, oid))["pii_status"] == "removed"
    assert (await _fulfillment_order(fulfillment, open_old))["pii_status"] == "held"


async def test_quarantine_uploads_outbox_and_dead_letters_lose_their_pii_after_n_days(
    pair: tuple[RunningService, RunningService],
) -> None:
    ingest, fulfillment = pair
    # A rejected order (sealed input kept for ops) and a flat-file upload.
    bad = amazon_order()
    bad["OrderTotal"] = {"CurrencyCode": "USD", "Amount": "not money"}
    refused = await ingest.client.post("/v1/orders", json=bad, headers=A)
    assert refused.status_code == 422
    oid = await _post(ingest, amazon_order())
    await _fulfillment_order(fulfillment, oid)
    files = {"file": ("orders.txt", _flat_file().encode(), "text/plain")}
    uploaded = await ingest.client.post("/v1/uploads", files=files, headers=A)
    assert uploaded.status_code == 202, uploaded.text
    upload_url = f"/v1/uploads/{uploaded.json()['upload_id']}"

    async def upload_done() -> bool:
        r = await ingest.client.get(upload_url, headers=A)
        return bool(r.json()["status"] == "done")

    await eventually(upload_done, timeout=60)

    async def sent() -> bool:
        return bool(
            await _scalar(
                ingest,
                "SELECT bool_and(sent_at IS NOT NULL) FROM outbox WHERE message_key = :o",
                o=oid,
            )
        )

    await eventually(sent, timeout=60)
    sealed = await _scalar(ingest, "SELECT count(*) FROM quarantine WHERE sealed_input IS NOT NULL")
    assert sealed >= 1
    # Recent rows are kept by the running job...
    counts = await _purge_now(ingest, ingest_purge.STATEMENTS)
    assert counts["quarantine"] == counts["outbox"] == 0
    # ...and purged once they are older than N days.
    await _execute(ingest, "UPDATE quarantine SET received_at = now() - interval '31 days'")
    await _execute(
        ingest,
        "UPDATE outbox SET created_at = now() - interval '31 days', sent_at = now() - interval "
        "'31 days' WHERE message_key = :o",
        o=oid,
    )
    await _execute(
        ingest,
        "UPDATE uploads SET finished_at = now() - interval '31 days' WHERE status = 'done'",
    )
    counts = await _purge_now(ingest, ingest_purge.STATEMENTS)
    # (the background job may have got there first: the state is what counts)
    assert counts["quarantine"] <= sealed
    assert (
        await _scalar(ingest, "SELECT count(*) FROM quarantine WHERE sealed_input IS NOT NULL") == 0
    )
    assert await _scalar(ingest, "SELECT max(octet_length(content)) FROM uploads") == 0
    assert (await ingest.client.get(upload_url, headers=A)).json()["rows_accepted"] == 1
    payload = await _scalar(
        ingest, "SELECT payload FROM outbox WHERE message_key = :o ORDER BY id LIMIT 1", o=oid
    )
    event = orjson.loads(payload)
    assert event["data"]["buyer_pii"] is None
    assert event["data"]["amazon_order_id"] == oid  # the rest of the event is intact

    # Fulfillment's dead letters of orders.v1 keep their payload, minus the sealed PII.
    poisoned = {
        "id": "x",
        "type": "order.created",
        "data": {"buyer_pii": {"key_id": "k", "ciphertext": "c"}},
    }
    await _execute(
        fulfillment,
        "INSERT INTO dead_letters (topic, kafka_partition, kafka_offset, payload, error_type,"
        " error_message, attempts, failed_at) VALUES ('orders.v1', 0, 1, :p, 'E', 'e', 3,"
        " now() - interval '31 days'), ('orders.v1', 0, 2, :p, 'E', 'e', 3, now())",
        p=orjson.dumps(poisoned),
    )
    counts = await _purge_now(fulfillment, fulfillment_purge.STATEMENTS)
    assert counts["dead_letters"] <= 1
    left = await _scalar(
        fulfillment,
        "SELECT jsonb_agg(convert_from(payload, 'UTF8')::jsonb -> 'data' -> 'buyer_pii'"
        " ORDER BY kafka_offset) FROM dead_letters",
    )
    assert left[0] is None and left[1] == {"key_id": "k", "ciphertext": "c"}


async def _purge_now(svc: RunningService, stores: Stores) -> dict[str, int]:
    return await purge_once(
        svc.resources.sessions, stores, now=datetime.now(UTC), days=DAYS, batch=100
    )
