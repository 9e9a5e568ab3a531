"""Buyer PII is never in logs, never readable on Kafka, never in an API answer.

The four services run as real processes (``python -m <svc> all``, DEBUG logging) on one topic
prefix. Orders with distinctive buyer names, e-mails, phones and streets go in through ingest
(one by one, in a batch, in a flat file, and in invalid forms that are refused), flow to
fulfillment, defects and analytics, a packing slip is printed, errors are provoked. Then every
service's log, every message (key, headers, value) on every topic and dead-letter topic of
the run, and every HTTP answer are searched for the distinctive strings: the packing slip PDF
is the one place they may appear.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from orderflow_testkit.harness import eventually, read_topic
from orderflow_testkit.samples import amazon_order

from .conftest import ServiceProcess

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]

A = {"Authorization": "Bearer k-seller"}
OPS = {"Authorization": "Bearer k-ops"}
TOPICS = ("orders.v1", "fulfillment.v1", "defects.v1", "ads.v1", "analytics.v1")
TOKEN = secrets.token_hex(4)
NAME = f"Zebediah Quillfeather{TOKEN}"
EMAIL = f"zq.canary.{TOKEN}@example.org"
PHONE = f"+1 206-555-{TOKEN[:4]}"
STREET = f"4242 Canaryvogel Lane {TOKEN}"
CANARIES = (NAME, EMAIL, PHONE, STREET, f"Quillfeather{TOKEN}", f"canary.{TOKEN}")


def _with_pii(order: dict[str, Any], n: int = 0) -> dict[str, Any]:
    order["BuyerInfo"] = {"BuyerEmail": EMAIL, "BuyerName": NAME}
    order["ShippingAddress"] = {
        **order["ShippingAddress"],
        "Name": NAME,
        "AddressLine1": STREET,
        "AddressLine2": f"Apt {n}",
        "Phone": PHONE,
    }
    return order


def _leaks(text: str) -> list[str]:
    lowered = text.lower()
    return [c for c in CANARIES if c.lower() in lowered]


class Recorder:
    """Every answer the test gets, to be searched at the end."""

    def __init__(self) -> None:
        self.responses: list[httpx.Response] = []

    async def hook(self, response: httpx.Response) -> None:
        await response.aread()
        self.responses.append(response)


async def test_buyer_pii_is_in_no_log_no_topic_and_no_answer(
    start_service: Callable[..., ServiceProcess], kafka_bootstrap: str
) -> None:
    def start(name: str, **env: str) -> ServiceProcess:
        return start_service(name, LOG_LEVEL="DEBUG", **env)

    ingest = await asyncio.to_thread(start, "ingest")
    fulfillment = await asyncio.to_thread(start, "fulfillment")
    defects = await asyncio.to_thread(start, "defects")
    analytics = await asyncio.to_thread(
        start,
        "analytics",
        ORDERFLOW_SERVICE_URLS=f"ingest={ingest.url},fulfillment={fulfillment.url},"
        f"defects={defects.url}",
    )
    services = (ingest, fulfillment, defects, analytics)
    recorder = Recorder()

    def client(svc: ServiceProcess) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            base_url=svc.url, timeout=20, event_hooks={"response": [recorder.hook]}
        )

    async with (
        client(ingest) as ing,
        client(fulfillment) as ful,
        client(defects) as dfx,
        client(analytics) as ana,
    ):
        # -- orders with PII: one by one, in a batch, in a flat file ---------------------
        singles = [_with_pii(amazon_order(), n) for n in range(3)]
        for order in singles:
            assert (await ing.post("/v1/orders", json=order, headers=A)).status_code == 201
        batch = [_with_pii(amazon_order(), 10 + n) for n in range(3)]
        batched = await ing.post("/v1/orders/batch", json={"orders": batch}, headers=A)
        assert batched.json()["accepted"] == 3, batched.text
        ids = [o["AmazonOrderId"] for o in singles + batch]

        # -- refused input carrying PII ------------------------------------------------
        # (only PII fields carry PII: values of other fields are echoed in error messages,
        # e.g. "Amount 'x' is not a decimal number", by design)
        bad_total = _with_pii(amazon_order())
        bad_total["OrderTotal"] = {"CurrencyCode": "USD", "Amount": "lots"}
        bad_email = _with_pii(amazon_order())
        bad_email["BuyerInfo"]["BuyerEmail"] = {"nested": EMAIL, "name": NAME}
        bad_address = _with_pii(amazon_order())
        bad_address["ShippingAddress"]["AddressLine1"] = [STREET] * 3
        long_email = _with_pii(amazon_order())
        long_email["BuyerInfo"]["BuyerEmail"] = "x" * 400 + EMAIL
        bad_phone = _with_pii(amazon_order())
        bad_phone["ShippingAddress"]["Phone"] = {"number": PHONE}
        no_id = _with_pii(amazon_order())
        del no_id["AmazonOrderId"]
        refused = [
            await ing.post("/v1/orders", json=order, headers=A)
            for order in (bad_total, bad_email, bad_address, long_email, bad_phone, no_id)
        ]
        assert [r.status_code for r in refused] == [422] * 6, [r.text for r in refused]
        malformed = await ing.post(
            "/v1/orders",
            content=f'{{"BuyerInfo": {{"BuyerEmail": "{EMAIL}", "BuyerName": "{NAME}"'.encode(),
            headers={**A, "content-type": "application/json"},
        )
        assert malformed.status_code == 400
        mixed = await ing.post(
            "/v1/orders/batch", json={"orders": [bad_total, bad_email, bad_phone, no_id]}, headers=A
        )
        assert mixed.json()["rejected"] == 4
        too_big = await ing.post(
            "/v1/orders/batch",
            json={"orders": [_with_pii(amazon_order()) for _ in range(1001)]},
            headers=A,
        )
        assert too_big.status_code == 413
        upload = await ing.post(
            "/v1/uploads",
            files={"file": ("orders.txt", _flat_file().encode(), "text/plain")},
            headers=A,
        )
        assert upload.status_code == 202, upload.text
        upload_url = f"/v1/uploads/{upload.json()['upload_id']}"

        async def upload_done() -> dict[str, Any] | None:
            body: dict[str, Any] = (await ing.get(upload_url, headers=A)).json()
            return body if body["status"] == "done" else None

        finished = await eventually(upload_done, timeout=60)
        assert finished["rows_rejected"] >= 1 and finished["rows_accepted"] >= 1
        assert (await ing.get("/v1/quarantine", headers=A)).json()["items"]

        # -- the orders flow to every consumer -------------------------------------------
        async def everywhere() -> bool:
            for oid in ids:
                if (await ful.get(f"/v1/orders/{oid}", headers=A)).status_code != 200:
                    return False
                if (await ana.get(f"/v1/orders/{oid}/trace", headers=A)).status_code != 200:
                    return False
            return True

        await eventually(everywhere, timeout=90, interval=0.5)
        # Search by buyer e-mail works (hashed), and answers without the e-mail.
        found = await ful.get("/v1/orders", params={"buyer_email": EMAIL}, headers=A)
        assert found.status_code == 200
        assert {o["amazon_order_id"] for o in found.json()["items"]} >= set(ids)

        # -- the one allowed place: the packing slip -------------------------------------
        slip = await ful.get(f"/v1/orders/{ids[0]}/packing-slip", headers=A)
        assert slip.status_code == 200 and slip.content.startswith(b"%PDF")

        # -- actions and errors elsewhere ------------------------------------------------
        shipped = await ful.post(
            f"/v1/orders/{ids[0]}/shipments",
            json={
                "carrier_code": "UPS",
                "tracking_number": "1Z999AA10123456784",
                "ship_date": datetime.now(UTC).isoformat(),
            },
            headers=A,
        )
        assert shipped.status_code == 201, shipped.text
        bad_tracking = await ful.post(
            f"/v1/orders/{ids[1]}/shipments",
            json={"carrier_code": "UPS", "tracking_number": PHONE, "ship_date": "yesterday"},
            headers=A,
        )
        assert bad_tracking.status_code == 422
        claim = await dfx.post(
            "/v1/claims",
            json={
                "amazon_order_id": ids[0],
                "kind": "a_to_z",
                "reason": "item_not_received",
                "amount": {"amount": "39.98", "currency_code": "USD"},
                "filed_at": (datetime.now(UTC) - timedelta(hours=1)).isoformat(),
            },
            headers=A,
        )
        assert claim.status_code == 201, claim.text
        assert (await dfx.get("/v1/problem-orders", headers=A)).status_code == 200
        today = datetime.now(UTC).date()
        sales = {"from": (today - timedelta(days=7)).isoformat(), "to": today.isoformat()}
        assert (await ana.get("/v1/sales", params=sales, headers=A)).status_code == 200
        for path in ("/v1/account-health", "/v1/alerts"):
            assert (await ana.get(path, headers=A)).status_code == 200, path
        assert (await ana.get("/v1/ops/overview", headers=OPS)).status_code == 200
        for svc in (ing, ful, dfx, ana):
            assert (await svc.get("/v1/dead-letters", headers=OPS)).status_code == 200
        for oid in ids:
            await ing.get(f"/v1/orders/{oid}", headers=A)
            await ana.get(f"/v1/orders/{oid}/trace", headers=A)

    # -- search everything -----------------------------------------------------------------
    prefix = ingest.env["KAFKA_TOPIC_PREFIX"]
    problems: list[str] = []
    per_topic: dict[str, int] = {}
    for topic in (*TOPICS, *(f"{t}.dlq" for t in TOPICS)):
        records = await read_topic(
            kafka_bootstrap, f"{prefix}{topic}", until=lambda rs: False, timeout=3
        )
        per_topic[topic] = len(records)
        for record in records:
            raw = b" ".join(
                [record.key or b"", record.value or b"", *(v for _, v in record.headers or ())]
            ).decode(errors="replace")
            if leaks := _leaks(raw):
                problems.append(f"topic {topic} offset {record.offset}: {leaks}")
    assert per_topic["orders.v1"] >= len(ids) + 1, per_topic  # + the flat file's order
    assert per_topic["fulfillment.v1"] >= 1 and per_topic["defects.v1"] >= 1, per_topic
    for response in recorder.responses:
        if response.headers.get("content-type", "").startswith("application/pdf"):
            continue
        if leaks := _leaks(response.text):
            problems.append(
                f"{response.request.method} {response.request.url.path} "
                f"{response.status_code}: {leaks} in {response.text[:300]}"
            )
    for svc in services:
        log = svc.log.read_text(errors="replace")
        assert log.strip(), svc.name
        for number, line in enumerate(log.splitlines(), 1):
            if leaks := _leaks(line):
                problems.append(f"{svc.name}.log:{number}: {leaks}: {line[:300]}")
    assert not problems, "\n".join(problems[:40])
    assert len(recorder.responses) > 40


def _flat_file() -> str:
    header = (
        "amazon-order-id\tmerchant-order-id\tpurchase-date\tlast-updated-date\torder-status\t"
        "fulfillment-channel\tsales-channel\tship-service-level\tproduct-name\tsku\tasin\t"
        "quantity\tcurrency\titem-price\titem-tax\tshipping-price\tship-city\tship-state\t"
        "ship-postal-code\tship-country\tbuyer-email\tbuyer-name\tbuyer-phone-number\t"
        "recipient-name\tship-address-1"
    )

    def row(oid: str, price: str) -> str:
        return "\t".join(
            [
                oid,
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
                price,
                "0.00",
                "0.00",
                "Seattle",
                "WA",
                "98101",
                "US",
                EMAIL,
                NAME,
                PHONE,
                NAME,
                STREET,
            ]
        )

    return (
        "\n".join(
            [
                header,
                row("902-7777777-0000001", "10.00"),
                row("902-7777777-0000002", "ten"),
            ]
        )
        + "\n"
    )
