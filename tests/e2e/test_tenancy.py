"""Tenancy across the four services, one platform for the whole module.

Ingest, fulfillment, defects and analytics run in-process on one topic prefix, orders flowing
through Kafka, each with its own database; analytics calls ingest, fulfillment and defects over
their real REST APIs (as it does in production), so the routes that join sources are tested
with their joins. Seller A (``k-seller``) owns every object; seller B (``k-other``) and a system
key acting for B (``k-sys`` + ``X-Seller-Id``) try every route.

The tenancy matrix (``test_a_foreign_id_answers_exactly_as_an_unknown_one``) is derived from
the four OpenAPI documents: every route with an id in its path, and every id-like query filter,
is asked for seller A's object and for an id nobody has, and the two answers must be the same
bytes: status, every header and the body, once the id asked for is written as ``{id}`` in both
(it is echoed in ``instance`` and ``detail``; the unknown id has the same length, so even
``content-length`` matches). Both requests carry the same ``X-Correlation-Id``, so no header is
left out. A new route is in the matrix without a new row; one that needs a request body or an
id this module does not know fails the matrix until ``BODIES`` or ``ID_OF_PARAM`` has it.

``FOREIGN`` (404 and nothing changed, for every id route) and the auth matrix (401 without a
key, 403 for the wrong role) complete it.
"""

from __future__ import annotations

import contextlib
import re
import secrets
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from analytics.adapters.ingest_client import IngestClient
from analytics.adapters.peers import Peers
from orderflow_testkit.harness import RunningService, eventually
from orderflow_testkit.samples import amazon_order, order_id

from .conftest import in_process_platform

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(240)]

SELLER = "A2SELLER1EXAMPLE"
OTHER = "A3SELLER2EXAMPLE"
A = {"Authorization": "Bearer k-seller"}
B = {"Authorization": "Bearer k-other"}
OPS = {"Authorization": "Bearer k-ops"}
SYSTEM = {"Authorization": "Bearer k-sys"}
SYSTEM_FOR_B = {**SYSTEM, "X-Seller-Id": OTHER}
# Who asks for seller A's objects in the tenancy matrix: seller B, and keys narrowed to B.
WRITERS = {"seller B": B, "system key acting for B": SYSTEM_FOR_B}
STRANGERS = {**WRITERS, "ops key narrowed to B": {**OPS, "X-Seller-Id": OTHER}}
PEERS = ("ingest", "fulfillment", "defects")  # what analytics calls over REST
NO_AUTH_ROUTES = {("GET", "/healthz"), ("GET", "/readyz"), ("GET", "/metrics")}
# Writes an ops key may do besides dead-letter replays (operating, not changing sellers' data).
OPS_MAY_WRITE = {
    ("ingest", "POST", "/v1/amazon/shipment-confirmations/{confirmation_id}/retry"),
    ("ingest", "POST", "/v1/amazon/submissions/{submission_id}/retry"),
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


UPLOAD_ORDER = f"902-{secrets.randbelow(10**7):07d}-0000001"  # the order of A's flat file


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
    Row("ingest", "GET", "/v1/amazon/shipment-confirmations/{confirmation}"),
    Row("ingest", "POST", "/v1/amazon/shipment-confirmations/{confirmation}/retry"),
    Row("ingest", "GET", "/v1/amazon/submissions/{confirmation}"),
    Row("ingest", "POST", "/v1/amazon/submissions/{confirmation}/retry"),
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
    # The audit trail of every service (docs/audit.md): A's changes are not in B's.
    ("ingest", "/v1/audit", "connection"),
    ("fulfillment", "/v1/audit", "order"),
    ("defects", "/v1/audit", "claim"),
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
    "behind_seconds",
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


@pytest.fixture(scope="module")
async def platform(
    make_database: Callable[[str], str], kafka_bootstrap: str, topic_prefix: str
) -> AsyncIterator[dict[str, RunningService]]:
    async with contextlib.AsyncExitStack() as stack:
        running = await stack.enter_async_context(
            in_process_platform(
                make_database,
                kafka_bootstrap=kafka_bootstrap,
                prefix=f"{topic_prefix}ten{secrets.token_hex(3)}.",
                roles=("worker", "relay"),
                RATE_LIMIT_PER_SECOND=100_000,
                RATE_LIMIT_BURST=100_000,
            )
        )
        # Analytics joins ingest, fulfillment and defects over their REST APIs (trace, ops
        # overview): wire it to the in-process services, as ORDERFLOW_SERVICE_URLS would.
        routed = _Routed({n: httpx.ASGITransport(app=running[n].app) for n in PEERS})
        ingest_http = await stack.enter_async_context(
            httpx.AsyncClient(transport=routed, base_url="http://ingest", timeout=30)
        )
        analytics = running["analytics"].resources.deps
        analytics.ingest = IngestClient(ingest_http, api_key="k-ops")
        analytics.peers = Peers(
            {n: f"http://{n}" for n in PEERS}, api_key="k-ops", timeout=30, transport=routed
        )
        yield running


class _Routed(httpx.AsyncBaseTransport):
    """One transport for several in-process services, chosen by the URL's host."""

    def __init__(self, apps: dict[str, httpx.ASGITransport]) -> None:
        self.apps = apps

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        return await self.apps[request.url.host].handle_async_request(request)


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
    """Seller A's objects in every service; seller B's own order and claim; and one of A's
    orders (``hijacked``) whose id seller B then sent as its own (refused with 409 and
    quarantined under B), so B holds something under an order id that is A's."""
    w = World(platform, {})
    ingest, fulfillment, defects = (w.client(s) for s in ("ingest", "fulfillment", "defects"))
    order, hijacked, theirs = amazon_order(), amazon_order(), amazon_order()
    oid = order["AmazonOrderId"]
    for mine in (order, hijacked):
        await _ok(await ingest.post("/v1/orders", json=mine, headers=A), 201)
    await _ok(await ingest.post("/v1/orders", json=theirs, headers=B), 201)
    w.ids["order"] = oid
    w.ids["hijacked"] = hijacked["AmazonOrderId"]
    w.ids["b_order"] = theirs["AmazonOrderId"]

    upload_row = "\t".join(
        [
            UPLOAD_ORDER,
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

    w.ids["item"] = await _in_fulfillment(w, oid, A)
    await _in_fulfillment(w, w.ids["b_order"], B)
    w.ids["shipment"] = await _ship(w, oid, w.ids["item"])
    await _ship(w, w.ids["hijacked"], await _in_fulfillment(w, w.ids["hijacked"], A))
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

    w.ids["claim"] = await _claim(w, oid, A)
    await _claim(w, w.ids["hijacked"], A)
    w.ids["b_claim"] = await _claim(w, w.ids["b_order"], B)
    pdf = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"
    responded = await defects.post(
        f"/v1/claims/{w.ids['claim']}/responses",
        data={"text": "proof of delivery attached"},
        files=[("files", ("pod.pdf", pdf, "application/pdf"))],
        headers=A,
    )
    responded_body = await _ok(responded)
    w.ids["evidence"] = _first_file_id(responded_body)
    for mine in (oid, w.ids["hijacked"]):
        feedback = {"amazon_order_id": mine, "rating": 1, "received_at": _now()}
        created = await _ok(await defects.post("/v1/feedback", json=feedback, headers=A), 201)
        w.ids.setdefault("feedback", created["id"])

    # Seller B sends one of A's order ids as its own: refused, and quarantined under B.
    later = datetime.now(UTC) + timedelta(minutes=1)
    hijack = amazon_order(amazon_order_id=w.ids["hijacked"], status="Canceled", updated=later)
    await _ok(await ingest.post("/v1/orders", json=hijack, headers=B), 409)

    async def traced() -> bool:
        for mine in (oid, w.ids["hijacked"]):
            r = await w.client("analytics").get(f"/v1/orders/{mine}/trace", headers=A)
            body = r.json()
            if r.status_code != 200 or not body["read_model"]["defect_cases"]:
                return False
        return True

    await eventually(traced, timeout=30)
    # A shipment confirmation for Amazon: ingest takes it from fulfillment.v1 (A has a
    # connection), so the routes on confirmations have an object of A's.
    await eventually(lambda: _confirmation_of(w, oid), timeout=30)
    # Let every consumer finish (claims, feedback and shipments reach analytics and ingest).
    settled: list[Any] = [None]

    async def still() -> bool:
        views = await _owner_views(w)
        same = views == settled[0]
        settled[0] = views
        return same

    await eventually(still, timeout=60, interval=1.5)
    return w


async def _in_fulfillment(w: World, oid: str, headers: dict[str, str]) -> str:
    """Wait until fulfillment holds the order; its first item's id."""

    async def held() -> dict[str, Any] | None:
        r = await w.client("fulfillment").get(f"/v1/orders/{oid}", headers=headers)
        return r.json() if r.status_code == 200 else None

    detail = await eventually(held, timeout=30)
    return str(detail["items"][0]["order_item_id"])


async def _ship(w: World, oid: str, item: str) -> str:
    shipped = await w.client("fulfillment").post(
        f"/v1/orders/{oid}/shipments",
        json={
            "carrier_code": "UPS",
            "tracking_number": "1Z999AA10123456784",
            "ship_date": _now(),
            "items": [{"order_item_id": item, "quantity": 1}],
        },
        headers=A,
    )
    return str((await _ok(shipped, 201))["shipment_id"])


async def _claim(w: World, oid: str, headers: dict[str, str]) -> str:
    claim = {
        "amazon_order_id": oid,
        "kind": "a_to_z",
        "reason": "item_not_received",
        "amount": {"amount": "39.98", "currency_code": "USD"},
        "filed_at": (datetime.now(UTC) - timedelta(hours=1)).isoformat(),
    }
    filed = await w.client("defects").post("/v1/claims", json=claim, headers=headers)
    return str((await _ok(filed, 201))["id"])


async def _confirmation_of(w: World, oid: str) -> bool:
    r = await w.client("ingest").get(
        "/v1/amazon/shipment-confirmations", params={"amazon_order_id": oid}, headers=A
    )
    items = r.json()["items"] if r.status_code == 200 else []
    if items:
        w.ids["confirmation"] = items[0]["id"]
    return bool(items)


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


# --- the tenancy matrix: a foreign id answers exactly as an unknown one ------------------------

# Path parameters and id-like query filters -> the World id of seller A's object they name.
ID_OF_PARAM = {
    "amazon_order_id": "order",
    "connection_id": "connection",
    "confirmation_id": "confirmation",
    "submission_id": "confirmation",  # a shipment confirmation is an Amazon submission
    "shipment_id": "shipment",
    "return_id": "return",
    "claim_id": "claim",
    "file_id": "evidence",
    "feedback_id": "feedback",
    # The audit trail's filter by resource: one of A's claims (B never changed it, so B's
    # trail holds nothing under its id, exactly as under an id nobody has).
    "resource_id": "claim",
}
# Parameters that name no seller's object, and why they are left out of the matrix.
NOT_A_SELLERS_ID = {
    # Dead letters belong to no seller: only ops keys reach these routes, and seller and system
    # keys are refused (403) before any lookup (test_wrong_roles_are_forbidden).
    "dead_letter_id": "ops-only, no seller's object",
    # Amazon's marketplaces are the same for every seller.
    "marketplace_id": "Amazon's marketplace, not a seller's object",
}
# The parent a nested route is asked under when it is seller B's own (B's order with A's
# shipment, B's claim with A's evidence file).
B_PARENT = {"amazon_order_id": "b_order", "claim_id": "b_claim"}
MATRIX_CORRELATION_ID = "tenancy-matrix"


def _world_key(path: str, param: str) -> str:
    if param == "upload_id":
        return "shipment_upload" if path.startswith("/v1/shipments/") else "upload"
    return ID_OF_PARAM[param]


def _shape(path: str) -> str:
    return re.sub(r"\{\w+\}", "{}", path)


# Request bodies of the id routes that take one (valid, so the lookup is what answers).
BODIES = {(r.service, r.method, _shape(r.path)): r.body for r in FOREIGN if r.body is not None}


def _unseen_like(value: str) -> str:
    """An id nobody has, of the same shape and length as ``value``."""
    with contextlib.suppress(ValueError):
        uuid.UUID(value)
        return str(uuid.uuid4())
    if re.fullmatch(r"\d{3}-\d{7}-\d{7}", value):
        return order_id()
    return "".join(
        secrets.choice("0123456789")
        if c.isdigit()
        else secrets.choice("abcdefghijklmnopqrstuvwxyz")
        if c.islower()
        else secrets.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ")
        if c.isupper()
        else c
        for c in value
    )


@dataclass(frozen=True)
class Ask:
    """One request of the matrix: the same route, once with A's ids and once with unknown ones."""

    service: str
    method: str
    path: str  # the OpenAPI template
    params: tuple[str, ...]  # the path or query parameters that take A's id (or an unknown one)
    own: dict[str, str]  # parameters filled with seller B's own ids (the parent of a nested route)
    query: bool = False  # the id goes in the query string, not the path

    def __str__(self) -> str:
        where = "?" + "&".join(self.params) if self.query else ""
        mixed = f" (under B's own {', '.join(self.own)})" if self.own else ""
        return f"{self.service} {self.method} {self.path}{where}{mixed}"


def _asks(world: World) -> tuple[list[Ask], list[str]]:
    """Every route with an id in its path, and every id-like query filter, of every service;
    with what is missing to ask it (a body, an id this module has no object for)."""
    asks: list[Ask] = []
    missing: list[str] = []
    for service, running in world.services.items():
        for path, operations in running.app.openapi()["paths"].items():
            for method, operation in operations.items():
                method = method.upper()
                parameters = operation.get("parameters", [])
                in_path = [p["name"] for p in parameters if p["in"] == "path"]
                filters = [
                    p["name"]
                    for p in parameters
                    if p["in"] == "query" and (p["name"].endswith("_id") or p["name"] == "id")
                ]
                names = [n for n in in_path + filters if n not in NOT_A_SELLERS_ID]
                if not names:
                    continue
                unknown = [n for n in names if n not in ID_OF_PARAM and n != "upload_id"]
                if unknown:
                    missing.append(f"{service} {method} {path}: no object for {unknown}")
                    continue
                if any(n in NOT_A_SELLERS_ID for n in in_path):
                    continue
                needs_body = operation.get("requestBody", {}).get("required", False)
                if needs_body and (service, method, _shape(path)) not in BODIES:
                    missing.append(f"{service} {method} {path}: no request body in BODIES")
                    continue
                if in_path:
                    asks.append(Ask(service, method, path, tuple(in_path), {}))
                    parent = in_path[:-1]
                    if parent and all(p in B_PARENT for p in parent):
                        own = {p: world.ids[B_PARENT[p]] for p in parent}
                        asks.append(Ask(service, method, path, (in_path[-1],), own))
                for name in filters:
                    if name not in NOT_A_SELLERS_ID:
                        asks.append(Ask(service, method, path, (name,), {}, query=True))
    return asks, missing


Answer = tuple[int, list[tuple[str, str]], bytes]


async def _answer(
    world: World, ask: Ask, ids: dict[str, str], headers: dict[str, str], body: Any
) -> Answer:
    """The answer, with each id asked for written as ``{param}``."""
    values = {**ask.own, **ids}
    url = re.sub(r"\{(\w+)\}", lambda m: values[m.group(1)], ask.path)
    kwargs: dict[str, Any] = {
        "headers": {**headers, "X-Correlation-Id": MATRIX_CORRELATION_ID},
        "params": ids if ask.query else None,
    }
    if body is not None:
        kwargs["json"] = body
    response = await world.client(ask.service).request(ask.method, url, **kwargs)

    def blank(text: str) -> str:
        for name, value in ids.items():
            text = text.replace(value, "{" + name + "}")
        return text

    answer_headers = sorted((k, blank(v)) for k, v in response.headers.items())
    return response.status_code, answer_headers, blank(response.text).encode()


@pytest.mark.parametrize("stranger", list(STRANGERS))
async def test_a_foreign_id_answers_exactly_as_an_unknown_one(world: World, stranger: str) -> None:
    """For every route with an id in its path and every id-like filter, of every service:
    seller A's object and an id nobody has get the same status, headers and body (nothing
    left out: both requests carry the same X-Correlation-Id, the unknown id has the same length,
    and the id asked for is written as ``{param}`` in both)."""
    headers = STRANGERS[stranger]
    asks, missing = _asks(world)
    assert not missing, "routes the matrix cannot ask yet:\n" + "\n".join(missing)
    assert len([a for a in asks if not a.query]) >= 30, [str(a) for a in asks]
    before = await _owner_views(world)
    differences: list[str] = []
    for ask in asks:
        foreign = {p: world.ids[_world_key(ask.path, p)] for p in ask.params}
        unknown = {p: _unseen_like(v) for p, v in foreign.items()}
        template = BODIES.get((ask.service, ask.method, _shape(ask.path)))
        body = world.fill(template) if template is not None else None
        theirs = await _answer(world, ask, foreign, headers, body)
        nobodys = await _answer(world, ask, unknown, headers, body)
        if theirs != nobodys:
            differences.append(f"{ask}:\n  A's id:  {theirs}\n  unknown: {nobodys}")
        elif SELLER in theirs[2].decode(errors="replace"):
            differences.append(f"{ask}: names seller A in {theirs}")
    assert not differences, f"{len(differences)} of {len(asks)} differ:\n" + "\n".join(differences)
    assert await _owner_views(world) == before


async def test_input_refused_under_b_for_an_order_id_of_a_shows_b_only_its_own_input(
    world: World,
) -> None:
    """Seller B sent one of A's order ids (409, quarantined under B). B's trace of that id
    explains B's refused input and holds nothing of A's order: no seller id, status, event,
    topic, offset, shipment, claim or feedback; A's trace shows A's order and not B's input."""
    hijacked = world.ids["hijacked"]
    url = f"/v1/orders/{hijacked}/trace"
    analytics = world.client("analytics")
    mine = (await analytics.get(url, headers=A)).json()
    assert mine["read_model"]["order"]["seller_id"] == SELLER
    assert mine["read_model"]["shipments"] == 1 and len(mine["read_model"]["defect_cases"]) == 2
    assert mine["events"] and mine["ingest"]["published"] and mine["ingest"]["quarantined"] == []
    quarantined = (
        await world.client("ingest").get(
            "/v1/quarantine", params={"amazon_order_id": hijacked}, headers=B
        )
    ).json()["items"]
    assert quarantined and {q["seller_id"] for q in quarantined} == {OTHER}
    for stranger, headers in STRANGERS.items():
        response = await analytics.get(url, headers=headers)
        assert response.status_code == 200, (stranger, response.text)
        trace = response.json()
        assert SELLER not in response.text, (stranger, response.text)
        assert [f["code"] for f in trace["diagnosis"]][:1] == ["rejected_as_bad_input"], trace
        assert trace["ingest"] == {
            "reachable": True,
            "received": False,
            "order_status": None,
            "version": None,
            "received_at": None,
            "all_events_published": None,
            "published": [],
            "quarantined": [
                {"id": q["id"], "received_at": q["received_at"], "reasons": q["reasons"]}
                for q in quarantined
            ],
        }, stranger
        assert trace["read_model"] == {
            "order": None,
            "fulfillment": None,
            "shipments": 0,
            "defect_cases": [],
        }, stranger
        assert (trace["events"], trace["dead_letters"], trace["dead_letters_elsewhere"]) == (
            [],
            [],
            {},
        )
        assert trace["services"] == {
            "ingest": {"published_version": None},
            "analytics": {"order_version_applied": None, "fulfillment_version_applied": None},
            "seen_on_topics": {},
            "fulfillment": {"reachable": True, "found": False},
        }, stranger


# Fields a new object gets from the server (its id, the clock when it was made): they differ
# between any two requests that create something, whoever's order id they name.
MADE_BY_THE_SERVER = {"id", "upload_id", "at", "due_at", "created_at", "finished_at"}


def _made(body: Any, asked: str) -> Any:
    """``body`` without what the server made for it, and with the order id asked as ``{id}``."""
    if isinstance(body, dict):
        return {k: "*" if k in MADE_BY_THE_SERVER else _made(v, asked) for k, v in body.items()}
    if isinstance(body, list):
        return [_made(v, asked) for v in body]
    return body.replace(asked, "{id}") if isinstance(body, str) else body


async def test_an_order_id_of_a_in_a_request_body_answers_as_an_unknown_one(world: World) -> None:
    """Claims, feedback and shipment-confirmation files name an order in their body: filed by
    B (or for B) on A's order id they answer as on an id nobody has, and are never linked to A's
    order. (Creating an order, or a connection to an Amazon account, whose id another seller
    holds is refused with 409 instead: those ids are unique across sellers; see
    test_an_order_id_of_another_seller_is_refused_at_ingest_without_naming_it.)"""
    defects, fulfillment = world.client("defects"), world.client("fulfillment")
    oid = UPLOAD_ORDER  # A's, and no test of this module gives B anything under it
    held = {"amazon_order_id": oid, "rating": 5, "received_at": _now()}
    praise = await _ok(await defects.post("/v1/feedback", json=held, headers=A), 201)

    async def defects_holds_it() -> bool:
        r = await defects.get(f"/v1/feedback/{praise['id']}", headers=A)
        return bool(r.json()["order"]["known"])

    await eventually(defects_holds_it, timeout=30)
    for hours, (stranger, headers) in enumerate(WRITERS.items(), start=2):
        filed_at = (datetime.now(UTC) - timedelta(hours=hours)).isoformat()
        unknown = order_id()
        claim = {
            "kind": "chargeback",
            "reason": "unauthorized",
            "amount": {"amount": "10.00", "currency_code": "USD"},
            "filed_at": filed_at,
        }
        feedback = {"rating": 2, "received_at": filed_at}
        for path, body in (("/v1/claims", claim), ("/v1/feedback", feedback)):
            answers = [
                await defects.post(path, json={**body, "amazon_order_id": asked}, headers=headers)
                for asked in (oid, unknown)
            ]
            theirs, nobodys = (
                (r.status_code, _made(r.json(), asked))
                for r, asked in zip(answers, (oid, unknown), strict=True)
            )
            assert theirs == nobodys, (stranger, path, theirs, nobodys)
            assert theirs[0] == 201, (stranger, path, answers[0].text)
            assert SELLER not in answers[0].text, (stranger, path, answers[0].text)
            assert answers[0].json()["order"]["known"] is False

        results = []
        for asked in (oid, unknown):
            row = f"{asked}\t\t\t2026-11-20\tUPS\t\t1Z999AA10123456784\t"
            files = {"file": ("c.txt", f"{SHIP_FILE_HEADER}\n{row}\n".encode(), "text/plain")}
            posted = await fulfillment.post("/v1/shipments/uploads", files=files, headers=headers)
            url = (await _ok(posted))["upload_id"]

            async def done(
                url: str = url, headers: dict[str, str] = headers
            ) -> dict[str, Any] | None:
                r = await fulfillment.get(f"/v1/shipments/uploads/{url}", headers=headers)
                body: dict[str, Any] = r.json()
                return body if body["status"] == "done" else None

            results.append(_made(await eventually(done, timeout=30), asked))
        assert results[0] == results[1], (stranger, results)
        assert results[0]["rows_rejected"] == 1, results[0]
    # B's trace of A's order id shows B's own cases under it, and nothing of A's order.
    for stranger, headers in STRANGERS.items():
        response = await world.client("analytics").get(f"/v1/orders/{oid}/trace", headers=headers)
        trace = response.json()
        assert response.status_code == 200 and SELLER not in response.text, (stranger, trace)
        assert trace["read_model"]["order"] is None and trace["read_model"]["shipments"] == 0
        assert trace["ingest"]["received"] is False and trace["dead_letters_elsewhere"] == {}
        assert trace["services"]["fulfillment"] == {"reachable": True, "found": False}
        assert {e["source"] for e in trace["events"]} <= {"defects"}, trace["events"]
    # A's order is A's alone still: no case of B's is linked to it.
    mine = (await defects.get("/v1/problem-orders", headers=A)).json()["items"]
    assert all(c["id"] != praise["id"] for o in mine for c in o["cases"])
    assert (await defects.get("/v1/claims", params={"amazon_order_id": oid}, headers=A)).json()[
        "items"
    ] == []


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
    oid = world.ids["hijacked"]
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
        "confirmation_id": "confirmation",
        "submission_id": "confirmation",
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
