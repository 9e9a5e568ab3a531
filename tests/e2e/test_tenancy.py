"""Tenancy across the four services (issue 7), one platform for the whole module.

Ingest, fulfillment, defects and analytics run in-process on one topic prefix, orders flowing
through Kafka, each with its own database. Seller A (``k-seller``) owns every object; seller B
(``k-other``) tries every route that takes an id. The matrix is ``FOREIGN``: one row per
route, so adding a route means adding one row. Every row must answer 404 to seller B and leave
what seller A sees unchanged. The auth matrix (401 without a key, 403 for the wrong role) is
derived from each service's OpenAPI document, so new routes are covered without a new row.
"""

from __future__ import annotations

import contextlib
import importlib
import re
import secrets
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from shared.samples import amazon_order
from shared.settings import ServiceSettings
from shared.testing import RunningService, eventually, running_service

from .conftest import KEYS, PII_KEY, SERVICES

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(240)]

SELLER = "A2SELLER1EXAMPLE"
OTHER = "A3SELLER2EXAMPLE"
A = {"Authorization": "Bearer k-seller"}
B = {"Authorization": "Bearer k-other"}
OPS = {"Authorization": "Bearer k-ops"}
SYSTEM = {"Authorization": "Bearer k-sys"}
NO_AUTH_ROUTES = {("GET", "/healthz"), ("GET", "/readyz"), ("GET", "/metrics")}
# Writes an ops key may do besides dead-letter replays (operating, not changing sellers' data).
OPS_MAY_WRITE = {
    ("ingest", "POST", "/v1/amazon/shipment-confirmations/{confirmation_id}/retry"),
}

# Ingest's flat-file and fulfillment's shipment-confirmation columns (Amazon's report names).
ORDER_FILE_HEADER = (
    "amazon-order-id\tmerchant-order-id\tpurchase-date\tlast-updated-date\torder-status\t"
    "fulfillment-channel\tsales-channel\tship-service-level\tproduct-name\tsku\tasin\t"
    "quantity\tcurrency\titem-price\titem-tax\tshipping-price\tship-city\tship-state\t"
    "ship-postal-code\tship-country"
)
SHIP_FILE_HEADER = (
    "order-id\torder-item-id\tquantity\tship-date\tcarrier-code\tcarrier-name\t"
    "tracking-number\tship-method"
)


def _now() -> str:
    return datetime.now(UTC).isoformat()


@dataclass(frozen=True)
class Row:
    """One route that takes an id: called by seller B it must answer 404 and change nothing."""

    service: str
    method: str
    path: str  # a template over the ids in ``World.ids``
    body: dict[str, Any] | None = None


FOREIGN: list[Row] = [
    # ingest
    Row("ingest", "GET", "/v1/orders/{order}"),
    Row("ingest", "GET", "/v1/uploads/{upload}"),
    Row("ingest", "GET", "/v1/connections/{connection}"),
    Row("ingest", "POST", "/v1/connections/{connection}/pause"),
    Row("ingest", "POST", "/v1/connections/{connection}/resume"),
    Row("ingest", "DELETE", "/v1/connections/{connection}"),
    # fulfillment
    Row("fulfillment", "GET", "/v1/orders/{order}"),
    Row("fulfillment", "GET", "/v1/orders/{order}/packing-slip"),
    Row("fulfillment", "POST", "/v1/orders/{order}/cancellation", {"reason": "NoInventory"}),
    Row(
        "fulfillment",
        "POST",
        "/v1/orders/{order}/shipments",
        {"carrier_code": "UPS", "tracking_number": "1Z999AA10123456784", "ship_date": "{now}"},
    ),
    Row(
        "fulfillment",
        "PATCH",
        "/v1/orders/{order}/shipments/{shipment}",
        {"tracking_number": "1Z999AA10123456785"},
    ),
    Row("fulfillment", "POST", "/v1/orders/{order}/refunds", {"reason": "GeneralAdjustment"}),
    Row(
        "fulfillment",
        "POST",
        "/v1/orders/{order}/returns",
        {"items": [{"order_item_id": "{item}", "quantity": 1}]},
    ),
    Row("fulfillment", "POST", "/v1/orders/{order}/returns/{return}/receipt", {"refund": True}),
    Row(
        "fulfillment",
        "POST",
        "/v1/orders/{order}/pickup",
        {"carrier_code": "UPS", "window_start": "{now}", "window_end": "{later}"},
    ),
    Row("fulfillment", "GET", "/v1/shipments/uploads/{shipment_upload}"),
    # defects
    Row("defects", "GET", "/v1/claims/{claim}"),
    Row("defects", "POST", "/v1/claims/{claim}/information-requests", {"note": "photos?"}),
    Row("defects", "POST", "/v1/claims/{claim}/responses", {"text": "tracking shows delivered"}),
    Row("defects", "POST", "/v1/claims/{claim}/review", {"note": "please review"}),
    Row("defects", "POST", "/v1/claims/{claim}/decision", {"decision": "withdrawn"}),
    Row("defects", "POST", "/v1/claims/{claim}/appeal", {"text": "we delivered"}),
    Row("defects", "POST", "/v1/claims/{claim}/appeal-decision", {"outcome": "overturned"}),
    Row("defects", "GET", "/v1/claims/{claim}/evidence/{evidence}"),
    Row("defects", "GET", "/v1/feedback/{feedback}"),
    Row("defects", "POST", "/v1/feedback/{feedback}/removal-request", {"reason": "a review"}),
    Row("defects", "POST", "/v1/feedback/{feedback}/removal", {"outcome": "removed"}),
    # analytics
    Row("analytics", "GET", "/v1/orders/{order}/trace"),
]

# Lists seller B may call: seller A's ids must not be in them.
FOREIGN_LISTS: list[tuple[str, str, str]] = [
    ("ingest", "/v1/connections", "connection"),
    ("fulfillment", "/v1/orders", "order"),
    ("defects", "/v1/claims", "claim"),
    ("defects", "/v1/feedback", "feedback"),
    ("defects", "/v1/problem-orders", "order"),
]

# What seller A reads to check nothing changed (volatile fields are dropped before comparing).
OWNER_VIEWS: list[tuple[str, str]] = [
    ("ingest", "/v1/orders/{order}"),
    ("ingest", "/v1/uploads/{upload}"),
    ("ingest", "/v1/connections/{connection}"),
    ("fulfillment", "/v1/orders/{order}"),
    ("fulfillment", "/v1/shipments/uploads/{shipment_upload}"),
    ("defects", "/v1/claims/{claim}"),
    ("defects", "/v1/feedback/{feedback}"),
    ("analytics", "/v1/orders/{order}/trace"),
]
VOLATILE = {
    "as_of",
    "consumer_lag",
    "overdue",
    "due_in_seconds",
    "age_seconds",
    "generated_at",
    "now",
    "checked_at",
}


@dataclass
class World:
    services: dict[str, RunningService]
    ids: dict[str, str]

    def client(self, service: str) -> httpx.AsyncClient:
        return self.services[service].client

    def fill(self, template: Any) -> Any:
        values = {**self.ids, "now": _now(), "later": _later()}
        if isinstance(template, str):
            return re.sub(r"\{(\w+)\}", lambda m: values[m.group(1)], template)
        if isinstance(template, dict):
            return {k: self.fill(v) for k, v in template.items()}
        if isinstance(template, list):
            return [self.fill(v) for v in template]
        return template

    async def call(
        self, service: str, method: str, path: str, headers: dict[str, str], body: Any = None
    ) -> httpx.Response:
        kwargs: dict[str, Any] = {"headers": headers}
        if body is not None:
            kwargs["json"] = self.fill(body)
        return await self.client(service).request(method, self.fill(path), **kwargs)


def _later() -> str:
    return (datetime.now(UTC) + timedelta(hours=4)).isoformat()


def _settings_class(service: str) -> type[ServiceSettings]:
    module = importlib.import_module(f"{service}.settings")
    [cls] = [
        v
        for v in vars(module).values()
        if isinstance(v, type) and issubclass(v, ServiceSettings) and v is not ServiceSettings
    ]
    return cls


@pytest.fixture(scope="module")
async def platform(
    make_database: Callable[[str], str], kafka_bootstrap: str, topic_prefix: str
) -> AsyncIterator[dict[str, RunningService]]:
    prefix = f"{topic_prefix}ten{secrets.token_hex(3)}."
    async with contextlib.AsyncExitStack() as stack:
        running: dict[str, RunningService] = {}
        for name in SERVICES:
            settings = _settings_class(name)(
                DATABASE_URL=make_database(f"{name}_ten"),
                KAFKA_BOOTSTRAP_SERVERS=kafka_bootstrap,
                KAFKA_TOPIC_PREFIX=prefix,
                ORDERFLOW_API_KEYS=KEYS,
                ORDERFLOW_PII_KEY=PII_KEY,
                RATE_LIMIT_PER_SECOND=100_000,
                RATE_LIMIT_BURST=100_000,
            )
            spec = importlib.import_module(f"{name}.bootstrap").SPEC
            running[name] = await stack.enter_async_context(
                running_service(spec, settings, roles=("worker", "relay"))
            )
        yield running


async def _ok(response: httpx.Response, *codes: int) -> dict[str, Any]:
    assert response.status_code in (codes or (200, 201, 202)), (
        response.request.method,
        response.request.url,
        response.status_code,
        response.text,
    )
    body: dict[str, Any] = response.json()
    return body


@pytest.fixture(scope="module")
async def world(platform: dict[str, RunningService]) -> World:
    """Seller A's objects in every service (seller B has an order of its own)."""
    w = World(platform, {})
    ingest, fulfillment, defects = (w.client(s) for s in ("ingest", "fulfillment", "defects"))
    order = amazon_order()
    oid = order["AmazonOrderId"]
    await _ok(await ingest.post("/v1/orders", json=order, headers=A), 201)
    await _ok(await ingest.post("/v1/orders", json=amazon_order(), headers=B), 201)
    w.ids["order"] = oid

    upload_row = "\t".join(
        [
            "902-4444444-0000001",
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
    )
    files = {"file": ("orders.txt", f"{ORDER_FILE_HEADER}\n{upload_row}\n".encode(), "text/plain")}
    w.ids["upload"] = (await _ok(await ingest.post("/v1/uploads", files=files, headers=A), 202))[
        "upload_id"
    ]
    connection = {
        "selling_partner_id": SELLER,
        "region": "NA",
        "marketplace_ids": ["ATVPDKIKX0DER"],
        "endpoint": "http://127.0.0.1:9",
        "lwa_token_url": "http://127.0.0.1:9/auth/o2/token",
        "credentials": {"client_id": "amzn1.id", "client_secret": "s" * 16, "refresh_token": "r"},
        "sync_from": (datetime.now(UTC) - timedelta(days=1)).isoformat(),
    }
    w.ids["connection"] = (
        await _ok(await ingest.post("/v1/connections", json=connection, headers=A), 201)
    )["id"]

    async def in_fulfillment() -> dict[str, Any] | None:
        r = await fulfillment.get(f"/v1/orders/{oid}", headers=A)
        return r.json() if r.status_code == 200 else None

    detail = await eventually(in_fulfillment, timeout=30)
    w.ids["item"] = detail["items"][0]["order_item_id"]
    shipped = await fulfillment.post(
        f"/v1/orders/{oid}/shipments",
        json={
            "carrier_code": "UPS",
            "tracking_number": "1Z999AA10123456784",
            "ship_date": _now(),
            "items": [{"order_item_id": w.ids["item"], "quantity": 1}],
        },
        headers=A,
    )
    w.ids["shipment"] = (await _ok(shipped, 201))["shipment_id"]
    returned = await fulfillment.post(
        f"/v1/orders/{oid}/returns",
        json={"items": [{"order_item_id": w.ids["item"], "quantity": 1}]},
        headers=A,
    )
    w.ids["return"] = (await _ok(returned, 201))["return_id"]
    confirm = f"{SHIP_FILE_HEADER}\n999-0000000-0000000\t\t\t2026-11-20\tDHL\t\t1234567890\t\n"
    files = {"file": ("confirm.txt", confirm.encode(), "text/plain")}
    w.ids["shipment_upload"] = (
        await _ok(await fulfillment.post("/v1/shipments/uploads", files=files, headers=A))
    )["upload_id"]

    claim = {
        "amazon_order_id": oid,
        "kind": "a_to_z",
        "reason": "item_not_received",
        "amount": {"amount": "39.98", "currency_code": "USD"},
        "filed_at": (datetime.now(UTC) - timedelta(hours=1)).isoformat(),
    }
    w.ids["claim"] = (await _ok(await defects.post("/v1/claims", json=claim, headers=A), 201))["id"]
    pdf = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"
    responded = await defects.post(
        f"/v1/claims/{w.ids['claim']}/responses",
        data={"text": "proof of delivery attached"},
        files=[("files", ("pod.pdf", pdf, "application/pdf"))],
        headers=A,
    )
    responded_body = await _ok(responded)
    w.ids["evidence"] = _first_file_id(responded_body)
    feedback = {"amazon_order_id": oid, "rating": 1, "received_at": _now()}
    w.ids["feedback"] = (
        await _ok(await defects.post("/v1/feedback", json=feedback, headers=A), 201)
    )["id"]

    async def traced() -> bool:
        r = await w.client("analytics").get(f"/v1/orders/{oid}/trace", headers=A)
        return r.status_code == 200

    await eventually(traced, timeout=30)
    # Let every consumer finish (claims, feedback and shipments reach analytics and ingest).
    settled: list[Any] = [None]

    async def still() -> bool:
        views = await _owner_views(w)
        same = views == settled[0]
        settled[0] = views
        return same

    await eventually(still, timeout=60, interval=1.5)
    return w


def _first_file_id(claim: dict[str, Any]) -> str:
    for key, value in claim.items():
        if isinstance(value, list):
            for entry in value:
                if isinstance(entry, dict):
                    files = entry.get("files") or (
                        [entry] if "content_type" in entry or "filename" in entry else []
                    )
                    if files and "id" in files[0]:
                        return str(files[0]["id"])
        if key == "evidence_files" and value:
            return str(value[0]["id"])
    raise AssertionError(f"no evidence file id in {claim}")


def _stable(body: Any) -> Any:
    if isinstance(body, dict):
        return {k: _stable(v) for k, v in body.items() if k not in VOLATILE}
    if isinstance(body, list):
        return [_stable(v) for v in body]
    return body


async def _owner_views(w: World) -> dict[str, Any]:
    views: dict[str, Any] = {}
    for service, path in OWNER_VIEWS:
        response = await w.call(service, "GET", path, A)
        assert response.status_code == 200, (service, path, response.text)
        views[f"{service} {path}"] = _stable(response.json())
    return views


@pytest.mark.parametrize("row", FOREIGN, ids=lambda r: f"{r.service}-{r.method}-{r.path}")
async def test_every_id_route_answers_404_to_another_seller_and_changes_nothing(
    world: World, row: Row
) -> None:
    before = await _owner_views(world)
    response = await world.call(row.service, row.method, row.path, B, row.body)
    assert SELLER not in response.text
    assert response.status_code == 404, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert await _owner_views(world) == before


def _by_order_id(row: Row) -> Any:
    return pytest.param(row, id=f"{row.service}-{row.path}")


@pytest.mark.parametrize(
    "row", [_by_order_id(r) for r in FOREIGN if "{order}" in r.path and r.method == "GET"]
)
async def test_a_foreign_id_answers_like_an_unknown_one(world: World, row: Row) -> None:
    """A 404 that differs from the answer for an id nobody has tells that the id exists."""
    unknown = "999-9999999-9999999"
    foreign = await world.call(row.service, row.method, row.path, B, row.body)
    nobody = await world.call(
        row.service, row.method, row.path.replace("{order}", unknown), B, row.body
    )
    assert foreign.status_code == nobody.status_code == 404, (foreign.text, nobody.text)
    theirs, ours = foreign.json(), nobody.json()
    assert set(theirs) == set(ours) and theirs["title"] == ours["title"], (theirs, ours)
    assert theirs["detail"].replace(world.ids["order"], unknown) == ours["detail"], (theirs, ours)


async def test_lists_of_another_seller_do_not_hold_the_owners_objects(world: World) -> None:
    for service, path, kind in FOREIGN_LISTS:
        theirs = await world.call(service, "GET", path, B)
        assert theirs.status_code == 200, (service, path, theirs.text)
        assert world.ids[kind] not in theirs.text, (service, path)
        mine = await world.call(service, "GET", path, A)
        assert world.ids[kind] in mine.text, (service, path, mine.text[:500])


async def test_the_same_rows_work_for_the_owner(world: World) -> None:
    """The 404s above mean something only if the same ids resolve for seller A."""
    for row in FOREIGN:
        if row.method != "GET":
            continue
        response = await world.call(row.service, row.method, row.path, A)
        assert response.status_code == 200, (row, response.text)


async def test_an_order_id_of_another_seller_is_refused_at_ingest_without_naming_it(
    world: World,
) -> None:
    ingest = world.client("ingest")
    oid = world.ids["order"]
    before = (await ingest.get(f"/v1/orders/{oid}", headers=A)).json()
    later = datetime.now(UTC) + timedelta(minutes=1)
    hijack = amazon_order(amazon_order_id=oid, status="Canceled", updated=later)
    single = await ingest.post("/v1/orders", json=hijack, headers=B)
    as_system = await ingest.post(
        "/v1/orders", json=hijack, headers={**SYSTEM, "X-Seller-Id": OTHER}
    )
    batch = await ingest.post("/v1/orders/batch", json={"orders": [hijack]}, headers=B)
    for response in (single, as_system):
        assert response.status_code == 409, response.text
        assert SELLER not in response.text
    assert batch.status_code == 200
    [entry] = batch.json()["results"]
    assert (entry["result"], entry["status"]) == ("rejected", 409)
    assert SELLER not in batch.text
    quarantine = await ingest.get("/v1/quarantine", headers=B)
    assert SELLER not in quarantine.text
    after = (await ingest.get(f"/v1/orders/{oid}", headers=A)).json()
    assert _stable(after) == _stable(before)
    assert (await world.client("fulfillment").get(f"/v1/orders/{oid}", headers=A)).json()[
        "status"
    ] != "Canceled"


async def test_a_client_cannot_set_fields_it_does_not_own(world: World) -> None:
    """status, seller_id and totals in request bodies: refused with 422, never applied."""
    oid = world.ids["order"]
    owned = {"status": "Shipped", "seller_id": OTHER, "order_total": "0.01", "total": "0.01"}
    fulfillment_before = _stable(
        (await world.call("fulfillment", "GET", f"/v1/orders/{oid}", A)).json()
    )
    claim_before = _stable((await world.call("defects", "GET", "/v1/claims/{claim}", A)).json())
    for row in FOREIGN:
        if row.body is None or row.method == "GET":
            continue
        for field, value in owned.items():
            response = await world.call(
                row.service, row.method, row.path, A, {**row.body, field: value}
            )
            assert response.status_code == 422, (row, field, response.status_code, response.text)
            assert field in response.text, (row, field, response.text)
    for path, body in [
        ("/v1/claims", {"status": "closed"}),
        ("/v1/feedback", {"counts_toward_odr": False}),
    ]:
        response = await world.call("defects", "POST", path, A, body)
        assert response.status_code == 422
    assert _stable((await world.call("fulfillment", "GET", f"/v1/orders/{oid}", A)).json()) == (
        fulfillment_before
    )
    assert _stable((await world.call("defects", "GET", "/v1/claims/{claim}", A)).json()) == (
        claim_before
    )

    # Ingest takes Amazon's order document; a seller_id in it does not choose the owner.
    order = amazon_order(seller_id=OTHER, SellerId=OTHER)
    created = await world.client("ingest").post("/v1/orders", json=order, headers=A)
    assert created.status_code in (201, 422), created.text
    if created.status_code == 201:
        mine = await world.client("ingest").get(f"/v1/orders/{order['AmazonOrderId']}", headers=A)
        theirs = await world.client("ingest").get(f"/v1/orders/{order['AmazonOrderId']}", headers=B)
        assert (mine.status_code, theirs.status_code) == (200, 404)
    # A seller key cannot act for another seller through X-Seller-Id.
    spoofed = await world.client("ingest").post(
        "/v1/orders", json=amazon_order(), headers={**A, "X-Seller-Id": OTHER}
    )
    assert spoofed.status_code == 403


def _routes(world: World) -> list[tuple[str, str, str]]:
    out = []
    for service, running in world.services.items():
        for path, operations in running.app.openapi()["paths"].items():
            for method in operations:
                if (method.upper(), path) not in NO_AUTH_ROUTES:
                    out.append((service, method.upper(), path))
    return out


def _concrete(world: World, path: str) -> str:
    names = {
        "amazon_order_id": "order",
        "upload_id": "upload",
        "connection_id": "connection",
        "shipment_id": "shipment",
        "return_id": "return",
        "claim_id": "claim",
        "file_id": "evidence",
        "feedback_id": "feedback",
    }
    return re.sub(r"\{(\w+)\}", lambda m: world.ids.get(names.get(m.group(1), ""), "1"), path)


async def test_every_route_needs_a_key(world: World) -> None:
    routes = _routes(world)
    assert len(routes) > 50
    wrong = []
    for service, method, path in routes:
        response = await world.client(service).request(method, _concrete(world, path))
        if response.status_code != 401:
            wrong.append(f"{service} {method} {path}: {response.status_code}")
    assert not wrong, "\n".join(wrong)


async def test_wrong_roles_are_forbidden(world: World) -> None:
    wrong = []
    for service, method, path in _routes(world):
        url = _concrete(world, path)
        ops_only = path.startswith("/v1/dead-letters") or path == "/v1/ops/overview"
        if (service, method, path) in OPS_MAY_WRITE:
            continue
        if ops_only:
            response = await world.client(service).request(method, url, headers=A)
            if response.status_code != 403:
                wrong.append(f"seller key: {service} {method} {path}: {response.status_code}")
        elif method != "GET":
            response = await world.client(service).request(method, url, headers=OPS)
            if response.status_code != 403:
                wrong.append(f"ops key: {service} {method} {path}: {response.status_code}")
    assert not wrong, "\n".join(wrong)
