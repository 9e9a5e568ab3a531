"""Hostile input at every route, field and parameter of the four services.

The four services run in-process on real PostgreSQL and Kafka, orders flowing between them.
The requests are generated from each service's OpenAPI document: for every operation, every
field of its body (walked from the schema into a valid base body, ``BASES``), every query,
path and header parameter, each kind's hostile values (``hostile.classes``: NUL, control,
bidi and zero-width characters, lone surrogates, over-long strings, numbers past every
column, 1e309, NaN, Infinity, moments outside 1970-2099). Every one must be refused with a
4xx problem that has a ``detail``: never a 5xx, never a 2xx. So must a body of another media
type (415), a body over the size cap, chunked or not (413), a forged cursor (400) and a binary
or malformed flat file. Values at the edge of what is accepted (the largest amount and
counters, the longest strings, the first and last moments) go through ingest and every
consumer, and no service dead-letters anything.
"""

from __future__ import annotations

import base64
import json
import re
import secrets
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import httpx
import orjson
import pytest

from orderflow_testkit.harness import RunningService, eventually
from orderflow_testkit.samples import amazon_order, order_id
from shared import inputs
from shared.messaging.envelope import MAX_EVENT_BYTES
from shared.settings import ServiceSettings

from . import hostile
from .conftest import SERVICES, in_process_platform, settings_of
from .hostile_bodies import (
    FILE_ROUTES,
    FIRST,
    LAST,
    ORDER_HEADER,
    PDF,
    SELLER,
    SHIP_HEADER,
    TOP,
    bases,
    confirmation_file,
    connection,
    edge_ad_rows,
    edge_v0_order,
    edge_v2026_order,
    ident,
    longest,
    now,
    order_report,
    v0_order,
)

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(900)]

A = {"Authorization": "Bearer k-seller"}
OPS = {"Authorization": "Bearer k-ops"}
SYSTEM = {"Authorization": "Bearer k-sys", "X-Seller-Id": SELLER}
MAX_BODY = 1024 * 1024  # this platform's MAX_BODY_BYTES (the default is 5 MiB): quick 413s
UNPROBED = {("GET", "/healthz"), ("GET", "/readyz"), ("GET", "/metrics")}
# Ingest's batch answers 200 with one result per order; one order's fields are the same as
# POST /v1/orders', so the batch is probed with fewer classes per field.
BATCH_CLASSES = ("nul", "bidi-override", "huge", "one-over", "2**64", "money-1e309")


# ---- the platform and seller A's objects -------------------------------------------------------
@pytest.fixture(scope="module")
async def platform(
    make_database: Callable[[str], str], kafka_bootstrap: str, topic_prefix: str
) -> AsyncIterator[dict[str, RunningService]]:
    async with in_process_platform(
        make_database,
        kafka_bootstrap=kafka_bootstrap,
        prefix=f"{topic_prefix}hx{secrets.token_hex(3)}.",
        roles=("worker", "relay", "background"),
        RATE_LIMIT_PER_SECOND=1_000_000,
        RATE_LIMIT_BURST=1_000_000,
        MAX_BODY_BYTES=MAX_BODY,
    ) as running:
        yield running


async def _ok(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code < 300, (response.request.url, response.text)
    body: dict[str, Any] = response.json()
    return body


@pytest.fixture(scope="module")
async def ids(platform: dict[str, RunningService]) -> dict[str, str]:
    """Seller A's objects, one of each kind a path names."""
    ingest, fulfillment, defects = (
        platform[s].client for s in ("ingest", "fulfillment", "defects")
    )
    order = amazon_order()
    oid = order["AmazonOrderId"]
    found = {"order": oid}
    await _ok(await ingest.post("/v1/orders", json=order, headers=A))

    async def in_fulfillment() -> dict[str, Any] | None:
        r = await fulfillment.get(f"/v1/orders/{oid}", headers=A)
        return r.json() if r.status_code == 200 else None

    found["item"] = (await eventually(in_fulfillment, timeout=30))["items"][0]["order_item_id"]
    shipment = {"carrier_code": "UPS", "tracking_number": "1Z999AA10123456784", "ship_date": now()}
    shipped = await fulfillment.post(f"/v1/orders/{oid}/shipments", json=shipment, headers=A)
    found["shipment"] = (await _ok(shipped))["shipment_id"]
    back = {"items": [{"order_item_id": found["item"], "quantity": 1}]}
    returned = await fulfillment.post(f"/v1/orders/{oid}/returns", json=back, headers=A)
    found["return"] = (await _ok(returned))["return_id"]
    files = {"file": ("orders.txt", order_report(), "text/plain")}
    found["upload"] = (await _ok(await ingest.post("/v1/uploads", files=files, headers=A)))[
        "upload_id"
    ]
    confirm = f"{SHIP_HEADER}\n999-0000000-0000000\t\t\t2026-11-20\tDHL\t1234567890\n"
    files = {"file": ("confirm.txt", confirm.encode(), "text/plain")}
    found["shipment_upload"] = (
        await _ok(await fulfillment.post("/v1/shipments/uploads", files=files, headers=A))
    )["upload_id"]
    found["connection"] = (
        await _ok(await ingest.post("/v1/connections", json=connection(), headers=A))
    )["id"]
    claim = {
        "amazon_order_id": oid,
        "kind": "a_to_z",
        "reason": "item_not_received",
        "amount": {"amount": "39.98", "currency_code": "USD"},
        "filed_at": now(hours=-1),
    }
    found["claim"] = (await _ok(await defects.post("/v1/claims", json=claim, headers=A)))["id"]
    responded = await defects.post(
        f"/v1/claims/{found['claim']}/responses",
        data={"text": "proof"},
        files=[("files", ("pod.pdf", PDF, "application/pdf"))],
        headers=A,
    )
    [activity] = [a for a in (await _ok(responded))["history"] if a["files"]]
    found["evidence"] = activity["files"][0]["id"]
    feedback = {"amazon_order_id": oid, "rating": 1, "received_at": now()}
    found["feedback"] = (await _ok(await defects.post("/v1/feedback", json=feedback, headers=A)))[
        "id"
    ]
    return found


PATH_IDS = {
    "amazon_order_id": "order",
    "upload_id": "upload",
    "connection_id": "connection",
    "shipment_id": "shipment",
    "return_id": "return",
    "claim_id": "claim",
    "file_id": "evidence",
    "feedback_id": "feedback",
}


# ---- the operations and their requests --------------------------------------------------------
@dataclass(frozen=True)
class Operation:
    service: str
    method: str
    path: str
    spec: dict[str, Any]
    doc: dict[str, Any]

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.service, self.method, self.path)

    @property
    def headers(self) -> dict[str, str]:
        if self.path.startswith(("/v1/dead-letters", "/v1/ops")):
            return OPS
        return {"Authorization": SYSTEM["Authorization"]} if "notifications" in self.path else A

    def media_types(self) -> list[str]:
        return list(self.spec.get("requestBody", {}).get("content", {}))

    def body_schema(self) -> dict[str, Any] | None:
        content = self.spec.get("requestBody", {}).get("content", {})
        json_body = content.get("application/json")
        return json_body["schema"] if json_body else None


def operations(platform: dict[str, RunningService]) -> list[Operation]:
    found = []
    for service, running in platform.items():
        doc = running.app.openapi()
        for path, methods in doc["paths"].items():
            for method, spec in methods.items():
                if (method.upper(), path) not in UNPROBED:
                    found.append(Operation(service, method.upper(), path, spec, doc))
    return found


def _url(op: Operation, ids: dict[str, str], **override: str) -> str:
    url = op.path
    for name in [p["name"] for p in op.spec.get("parameters", []) if p["in"] == "path"]:
        value = override.get(name) or ids.get(PATH_IDS.get(name, ""), "1")
        if name not in override and op.path.startswith("/v1/amazon"):
            value = "00000000-0000-4000-8000-000000000000"
        url = url.replace(f"{{{name}}}", quote(value, safe=""))
    return url


def _base_params(op: Operation) -> dict[str, str]:
    """Valid values for the operation's required query parameters."""
    today = datetime.now(UTC).date().isoformat()
    values = {"from": today, "to": today}
    return {
        p["name"]: values.get(p["name"], "1")
        for p in op.spec.get("parameters", [])
        if p["in"] == "query" and p.get("required")
    }


@dataclass
class Probe:
    op: Operation
    what: str
    request: dict[str, Any]
    batch: bool = False


def probes(ops: list[Operation], ids: dict[str, str]) -> Iterator[Probe]:
    bodies = bases(ids)
    for op in ops:
        yield from _parameter_probes(op, ids)
        schema = op.body_schema()
        if schema is None or op.key in FILE_ROUTES:
            continue
        for base in bodies[op.key]:
            for leaf in hostile.leaves(schema, base, op.doc):
                batch = op.path.endswith("/batch")
                for name, value in hostile.classes(leaf).items():
                    if batch and name not in BATCH_CLASSES:
                        continue
                    body = hostile.json_bytes(hostile.placed(_fresh(base), leaf.path, value))
                    yield Probe(
                        op,
                        f"body.{'.'.join(map(str, leaf.path))} {name}",
                        {
                            "url": _url(op, ids),
                            "content": body,
                            "headers": {**op.headers, "content-type": "application/json"},
                        },
                        batch=batch,
                    )


FRESH: dict[str, Callable[[], Any]] = {
    "AmazonOrderId": order_id,
    "orderId": order_id,
    "selling_partner_id": lambda: "A" + secrets.token_hex(6).upper(),
    "filed_at": now,
    "received_at": now,
}


def _fresh(base: dict[str, Any]) -> dict[str, Any]:
    """The base with new ids and times, so that each probe is new to the service: a repeat
    would be "unchanged" or "already recorded" (409), and nothing of it written."""
    fresh = {k: FRESH[k]() if k in FRESH else v for k, v in base.items()}
    if "orders" in fresh:
        fresh["orders"] = [_fresh(o) for o in fresh["orders"]]
    return fresh


def _parameter_probes(op: Operation, ids: dict[str, str]) -> Iterator[Probe]:
    for param in op.spec.get("parameters", []):
        where, name = param["in"], param["name"]
        leaf = hostile.Leaf((name,), hostile.resolve(param["schema"], op.doc), "")
        leaf = hostile.Leaf(leaf.path, leaf.schema, hostile.kind_of(leaf.schema))
        if leaf.schema.get("type") == "array":
            leaf = hostile.Leaf(leaf.path, leaf.schema["items"], "enum")
        for cls, value in hostile.classes(leaf).items():
            text = hostile.as_text(value)
            if text is None:
                continue
            if cls == "huge":  # a URL holds 64 KiB at most (httpx; servers hold less)
                text = text[: 8_000 if where == "path" else 30_000]
            params = _base_params(op)
            headers = dict(op.headers)
            url = _url(op, ids)
            if where == "query":
                params[name] = text
            elif where == "path":
                url = _url(op, ids, **{name: text})
            else:
                headers[name] = text.encode()  # type: ignore[assignment]
            request = {"url": url, "params": params, "headers": headers}
            if op.body_schema() is not None or op.key in FILE_ROUTES:
                request |= _valid_body(op, ids)
            yield Probe(op, f"{where}.{name} {cls}", request)


def _valid_body(op: Operation, ids: dict[str, str]) -> dict[str, Any]:
    if op.key in FILE_ROUTES:
        content = order_report() if op.service == "ingest" else confirmation_file(ids)
        return {"content": content, "headers_extra": {"content-type": "text/tab-separated-values"}}
    [base, *_] = bases(ids)[op.key]
    return {"content": orjson.dumps(base), "headers_extra": {"content-type": "application/json"}}


async def send(client: httpx.AsyncClient, method: str, request: dict[str, Any]) -> httpx.Response:
    request = dict(request)
    extra = request.pop("headers_extra", {})
    request["headers"] = {**request.get("headers", {}), **extra}
    return await client.request(method, **request)


def refused(response: httpx.Response) -> str | None:
    """What is wrong with the answer to a hostile request (None: a 4xx problem with a detail)."""
    if not 400 <= response.status_code < 500:
        return f"{response.status_code}: {response.text[:300]}"
    if not response.headers.get("content-type", "").startswith("application/problem+json"):
        return f"{response.status_code} not a problem: {response.text[:200]}"
    detail = response.json().get("detail")
    return None if isinstance(detail, str) and detail.strip() else f"no detail: {response.text}"


def batch_refused(response: httpx.Response) -> str | None:
    if response.status_code != 200:
        return refused(response)
    [entry] = response.json()["results"]
    if entry["result"] == "rejected" and 400 <= entry["status"] < 500 and entry["errors"]:
        return None
    return f"batch entry {entry}"


# ---- the tests --------------------------------------------------------------------------------
def _strings(schema: dict[str, Any], doc: dict[str, Any], path: str) -> Iterator[str]:
    """Fields of a request schema with no bound: strings without a length, pattern, enum or
    format, integers without a maximum, arrays without maxItems."""
    schema = hostile.resolve(schema, doc)
    kind = schema.get("type")
    if kind == "object" or "properties" in schema:
        for name, sub in schema.get("properties", {}).items():
            yield from _strings(sub, doc, f"{path}.{name}")
    elif kind == "array":
        if "maxItems" not in schema:
            yield f"{path}: array without maxItems"
        yield from _strings(schema.get("items", {}), doc, f"{path}[]")
    elif kind == "string" and not _bounded_string(schema):
        yield f"{path}: string without maxLength, a bounded pattern, enum or format"
    elif kind in ("integer", "number") and not {"maximum", "exclusiveMaximum"} & set(schema):
        yield f"{path}: {kind} without maximum"


def _bounded_string(schema: dict[str, Any]) -> bool:
    pattern = schema.get("pattern")
    bounded_pattern = pattern is not None and not re.search(r"[*+]|\{\d+,\}", pattern)
    return bool({"maxLength", "enum", "format"} & set(schema)) or bounded_pattern


async def test_every_request_field_is_bounded_in_the_openapi_documents(
    platform: dict[str, RunningService],
) -> None:
    unbounded = []
    for op in operations(platform):
        schema = op.body_schema()
        where = f"{op.service} {op.method} {op.path}"
        if schema is not None:
            unbounded += [f"{where} {u}" for u in _strings(schema, op.doc, "body")]
        for param in op.spec.get("parameters", []):
            unbounded += [
                f"{where} {u}"
                for u in _strings(param["schema"], op.doc, f"{param['in']}.{param['name']}")
            ]
    assert not unbounded, "\n".join(unbounded)


async def test_every_body_has_a_base_holding_every_documented_field(
    platform: dict[str, RunningService], ids: dict[str, str]
) -> None:
    bodies = bases(ids)
    missing = []
    for op in operations(platform):
        schema = op.body_schema()
        if schema is None or op.key in FILE_ROUTES:
            continue
        assert op.key in bodies, f"no base body for {op.key}: add one to bases"
        for base in bodies[op.key]:
            for leaf in hostile.leaves(schema, base, op.doc):
                if leaf.kind == "missing":
                    missing.append(f"{op.key} {'.'.join(map(str, leaf.path))}")
    assert not missing, "\n".join(missing)


@pytest.mark.parametrize("service", SERVICES)
async def test_hostile_values_in_every_field_and_parameter_are_refused_with_a_detail(
    platform: dict[str, RunningService], ids: dict[str, str], service: str
) -> None:
    ops = [op for op in operations(platform) if op.service == service]
    client = platform[service].client
    wrong, sent = [], 0
    for probe in probes(ops, ids):
        response = await send(client, probe.op.method, probe.request)
        sent += 1
        problem = batch_refused(response) if probe.batch else refused(response)
        if problem:
            wrong.append(f"{probe.op.method} {probe.op.path} {probe.what}: {problem}")
    assert sent > 50
    assert not wrong, f"{len(wrong)} of {sent}:\n" + "\n".join(wrong[:80])


OTHER_TYPES = (
    "text/plain",
    "multipart/form-data",
    "application/x-www-form-urlencoded",
    "application/xml",
    "application/json",
    "",
)


async def test_a_body_of_another_media_type_is_415(
    platform: dict[str, RunningService], ids: dict[str, str]
) -> None:
    """A route takes the media types its OpenAPI operation documents, and no other."""
    wrong, sent = [], 0
    for op in operations(platform):
        documented = op.media_types()
        if not documented:
            continue
        content = _valid_body(op, ids)["content"]
        for media_type in OTHER_TYPES:
            if media_type in documented:
                continue
            headers = dict(op.headers)
            if media_type:
                headers["content-type"] = media_type
            request = {"url": _url(op, ids), "params": _base_params(op), "content": content}
            response = await send(
                platform[op.service].client, op.method, request | {"headers": headers}
            )
            sent += 1
            problem = refused(response)
            if problem or response.status_code != 415:
                wrong.append(f"{op.service} {op.method} {op.path} {media_type!r}: {problem}")
    assert sent > 40
    assert not wrong, "\n".join(wrong)


async def _chunks(size: int) -> AsyncIterator[bytes]:
    chunk = b"x" * 65536
    while size > 0:
        yield chunk[:size]
        size -= len(chunk)


async def test_a_body_over_the_cap_is_413_chunked_or_declared(
    platform: dict[str, RunningService], ids: dict[str, str]
) -> None:
    """MAX_BODY_BYTES holds on every route of every service, however the body comes."""
    wrong = []
    for op in operations(platform):
        if op.method not in ("POST", "PATCH", "PUT"):
            continue
        media_type = (op.media_types() or ["application/json"])[0]
        headers = {**op.headers, "content-type": media_type}
        url, params = _url(op, ids), _base_params(op)
        client = platform[op.service].client
        chunked = await client.request(
            op.method, url, params=params, headers=headers, content=_chunks(MAX_BODY + 1)
        )
        declared = await client.request(
            op.method, url, params=params, headers=headers, content=b"x" * (MAX_BODY + 1)
        )
        for how, response in (("chunked", chunked), ("declared", declared)):
            problem = refused(response)
            if problem or response.status_code != 413:
                wrong.append(f"{op.service} {op.method} {op.path} {how}: {problem}")
    assert not wrong, "\n".join(wrong)


def test_every_service_has_the_one_body_cap() -> None:
    """MAX_BODY_BYTES is the shared setting; no service sets a cap of its own."""
    default = ServiceSettings().max_body_bytes
    assert default == 5 * 1024 * 1024
    assert {name: settings_of(name).max_body_bytes for name in SERVICES} == dict.fromkeys(
        SERVICES, default
    )


def _cursor(position: Any) -> str:
    raw = position if isinstance(position, bytes) else json.dumps(position).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


FORGED_CURSORS = [
    "!!!",
    "x" * 600,
    _cursor(b"not json"),
    _cursor([]),
    _cursor({}),
    _cursor({"after": "x"}),
    _cursor({"after": "12"}),
    _cursor({"before": 2**64}),
    _cursor({"before": -1}),
    _cursor({"before": 1, "after": 1}),
    _cursor({"offset": -1}),
    _cursor({"at": "0001-01-01", "id": "not-a-uuid"}),
    _cursor({"at": "2026-01-01T00:00:00", "id": "00000000-0000-4000-8000-000000000000"}),
    _cursor({"at": {"$gt": ""}, "id": None}),
    _cursor({"s": "purchase_date", "o": "desc", "k": "2026-01-01T00:00:00", "id": "a\x00b"}),
    _cursor({"due": "9999-99-99", "seq": 1}),
    _cursor({"due": None, "seq": 2**64}),
]


async def test_a_forged_cursor_is_refused_on_every_list(
    platform: dict[str, RunningService], ids: dict[str, str]
) -> None:
    wrong, lists = [], 0
    for op in operations(platform):
        if not any(p["name"] == "cursor" for p in op.spec.get("parameters", [])):
            continue
        lists += 1
        for forged in FORGED_CURSORS:
            params = {**_base_params(op), "cursor": forged}
            response = await platform[op.service].client.request(
                op.method, _url(op, ids), params=params, headers=op.headers
            )
            problem = refused(response)
            if problem:
                wrong.append(f"{op.service} {op.path} {forged[:40]}: {problem}")
    assert lists >= 10
    assert not wrong, "\n".join(wrong)


BINARY_FILES = {
    "zeros": bytes(4096),
    "png": b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4,
    "gzip": b"\x1f\x8b\x08\x00" + bytes(range(256)),
    "utf-16": "amazon-order-id\tpurchase-date\n".encode("utf-16"),
    "nul-in-a-cell": b"order-id\tship-date\ta\x00b\n",
    "control-in-a-cell": b"order-id\tship-date\ta\x07b\n",
}


async def test_a_binary_or_malformed_file_is_refused_before_anything_is_read(
    platform: dict[str, RunningService], ids: dict[str, str]
) -> None:
    report_row = ["111-1111111-1111111", now(), now(), "Unshipped", "S", "B000000001", "1"]
    malformed = {
        **BINARY_FILES,
        "order report, too many fields": order_report([*report_row, "USD", "1", "x", "extra"]),
        "confirmations, too many fields": confirmation_file(
            ids, [ids["order"], "", "", "2026-11-20", "UPS", "1Z999AA10123456786", "more"]
        ),
        "a field over the CSV limit": order_report([*report_row, "USD", "1", "x" * 200_000]),
    }
    wrong = []
    for service, path in (("ingest", "/v1/uploads"), ("fulfillment", "/v1/shipments/uploads")):
        for name, content in malformed.items():
            for how in ("multipart", "raw"):
                kwargs: dict[str, Any] = (
                    {"files": {"file": ("f.txt", content, "text/plain")}}
                    if how == "multipart"
                    else {"content": content, "headers": {**A, "content-type": "text/plain"}}
                )
                kwargs.setdefault("headers", A)
                response = await platform[service].client.post(path, **kwargs)
                problem = refused(response)
                if problem:
                    wrong.append(f"{service} {name} {how}: {problem}")
    assert not wrong, "\n".join(wrong)


CELLS = {
    "text": {
        "bidi-override": "ab\u202ecd",
        "zero-width": "a\u200bb",
        "line-separator": "a\u2028b",
        "over-long": "x" * 600,
    },
    "number": {"2**64": str(2**64), "1e309": "1e309", "NaN": "NaN", "below-zero": "-1"},
    "date": {"year 9999": "9999-12-31T23:59:59Z", "year 1": "0001-01-01T00:00:00Z"},
}
# Each column's kind: an identifier's pattern refuses every hostile cell; a text column the
# characters and lengths; a number or date column those and its own.
KINDS = {"id": ("text", "number", "date"), "text": ("text",), "number": ("text", "number")}
KINDS["date"] = ("text", "date")
ORDER_COLUMNS = {
    "amazon-order-id": "id",
    "purchase-date": "date",
    "last-updated-date": "date",
    "order-status": "id",
    "sku": "text",
    "asin": "id",
    "quantity": "number",
    "currency": "id",
    "item-price": "number",
    "product-name": "text",
}
SHIP_COLUMNS = {
    "order-id": "id",
    "order-item-id": "id",
    "quantity": "number",
    "ship-date": "date",
    "carrier-code": "text",
    "tracking-number": "text",
}


def _hostile_rows(columns: dict[str, str], valid: Callable[[], list[str]]) -> list[list[str]]:
    rows = []
    for index, kind in enumerate(columns.values()):
        for cells in (CELLS[k] for k in KINDS[kind]):
            for value in cells.values():
                row = valid()
                row[index] = value
                rows.append(row)
    return rows


async def test_hostile_cells_in_an_uploaded_file_reject_their_rows(
    platform: dict[str, RunningService], ids: dict[str, str]
) -> None:
    """A readable file whose cells break the policy is taken as a job, and each such row is
    rejected naming its column: nothing of it is accepted."""
    assert list(ORDER_COLUMNS) == ORDER_HEADER.split("\t")
    assert list(SHIP_COLUMNS) == SHIP_HEADER.split("\t")

    def order_row() -> list[str]:
        return [order_id(), now(), now(), "Unshipped", "S", "B000000001", "1", "USD", "1", "t"]

    def ship_row() -> list[str]:
        return [ids["order"], ids["item"], "1", "2026-11-20", "UPS", "1Z999AA10123456787"]

    uploads = [
        ("ingest", "/v1/uploads", order_report(*_hostile_rows(ORDER_COLUMNS, order_row))),
        (
            "fulfillment",
            "/v1/shipments/uploads",
            confirmation_file(ids, *_hostile_rows(SHIP_COLUMNS, ship_row)),
        ),
    ]
    for service, path, content in uploads:
        client = platform[service].client
        files = {"file": ("hostile.txt", content, "text/plain")}
        upload_id = (await _ok(await client.post(path, files=files, headers=A)))["upload_id"]

        async def done(client: httpx.AsyncClient = client, url: str = f"{path}/{upload_id}") -> Any:
            view = (await client.get(url, headers=A)).json()
            return view if view["status"] == "done" else None

        view = await eventually(done, timeout=60)
        assert view["rows_accepted"] == 0, view
        assert view["rows_rejected"] == view["rows_total"] > 0, view


async def test_values_at_the_edge_flow_through_every_consumer_with_no_dead_letter(
    platform: dict[str, RunningService], ids: dict[str, str]
) -> None:
    ingest, fulfillment, defects, analytics = (
        platform[s].client for s in ("ingest", "fulfillment", "defects", "analytics")
    )
    v0, v2026 = edge_v0_order(), edge_v2026_order()
    for order in (v0, v2026):
        assert (await ingest.post("/v1/orders", json=order, headers=A)).status_code == 201
    many = v0_order()
    many["OrderItems"] = [
        {**many["OrderItems"][0], "OrderItemId": f"I{i}", "QuantityOrdered": 1} for i in range(1000)
    ]
    assert (await ingest.post("/v1/orders", json=many, headers=A)).status_code == 201
    # An order whose event would be over what a consumer takes is refused, not accepted.
    heavy = edge_v0_order(
        items=int(MAX_EVENT_BYTES * 1.05 / len(orjson.dumps(v0["OrderItems"][0])))
    )
    assert MAX_EVENT_BYTES < len(orjson.dumps(heavy)) < MAX_BODY
    refused_heavy = await ingest.post("/v1/orders", json=heavy, headers=A)
    assert refused_heavy.status_code == 422 and "too large" in refused_heavy.text
    # A v2026 condition within Amazon's 50 characters that title-cases past a condition's 100
    # ("ﬃ" becomes "Ffi", "İ" two characters) is refused naming it, never a 500.
    titled = edge_v2026_order()
    titled["orderItems"][0]["product"]["condition"]["conditionType"] = "\ufb03" + "\u0130" * 49
    refused_titled = await ingest.post("/v1/orders", json=titled, headers=A)
    assert refused_titled.status_code == 422, refused_titled.text
    assert "orderItems.0.product.condition.conditionType" in refused_titled.text
    rows = edge_ad_rows()
    assert (
        await ingest.post("/v1/ads/performance", json={"rows": rows}, headers=A)
    ).status_code == 200
    report_row = [order_id(), FIRST, LAST, "Unshipped", longest(255), "Z" * 10]
    report = order_report([*report_row, str(inputs.MAX_QUANTITY), "USD", TOP, longest(500)])
    files = {"file": ("edge.txt", report, "text/plain")}
    upload = await ingest.post("/v1/uploads", files=files, headers=A)
    assert upload.status_code == 202, upload.text

    oid = v0["AmazonOrderId"]

    async def applied(service: str, path: str) -> Any:
        r = await platform[service].client.get(path, headers=A)
        return r.json() if r.status_code == 200 else None

    held = await eventually(lambda: applied("fulfillment", f"/v1/orders/{oid}"), timeout=60)
    assert held["order_total"] == TOP and held["items"][0]["title"] == longest(500)
    for other in (v2026["orderId"], many["AmazonOrderId"]):
        await eventually(lambda o=other: applied("fulfillment", f"/v1/orders/{o}"), timeout=60)

    # The seller's actions, at the edge too: shipment, refund, return, pickup, claim, feedback.
    item = held["items"][0]["order_item_id"]
    actions = [
        (
            fulfillment,
            f"/v1/orders/{oid}/shipments",
            {
                "carrier_code": longest(64),
                "carrier_name": longest(100),
                "ship_method": longest(100),
                "tracking_number": ident(64, "T"),
                "ship_date": now(),
                "items": [{"order_item_id": item, "quantity": inputs.MAX_QUANTITY}],
            },
        ),
        (
            fulfillment,
            "/v1/tracking-events",
            {
                "carrier_code": longest(64),
                "tracking_number": ident(64, "T"),
                "status": "return_to_sender",
                "occurred_at": now(minutes=-1),
            },
        ),
        (
            fulfillment,
            f"/v1/orders/{oid}/refunds",
            {
                "reason": "PriceError",
                "items": [{"order_item_id": item, "amount": "99999999999999.99"}],
            },
        ),
        (
            fulfillment,
            f"/v1/orders/{oid}/returns",
            {
                "rma_id": ident(64, "R"),
                "items": [{"order_item_id": item, "quantity": inputs.MAX_QUANTITY}],
                "reason": longest(200),
            },
        ),
        (
            fulfillment,
            f"/v1/orders/{oid}/pickup",
            {
                "carrier_code": longest(64),
                "window_start": now(hours=1),
                "window_end": now(hours=2),
            },
        ),
        (
            defects,
            "/v1/claims",
            {
                "amazon_order_id": oid,
                "kind": "a_to_z",
                "reason": "item_not_received",
                "amount": {"amount": "999999999999.99", "currency_code": "USD"},
                "filed_at": now(),
            },
        ),
        (
            defects,
            "/v1/feedback",
            {
                "amazon_order_id": oid,
                "rating": 1,
                "comment": ("line\tof text\n" * 400)[:5000],
                "received_at": now(),
            },
        ),
    ]
    for client, path, body in actions:
        response = await client.post(path, json=body, headers=A)
        assert response.status_code in (200, 201), (path, response.text)
        if path == "/v1/claims":
            claim_id = response.json()["id"]
    noted = {"note": longest(5000), "requested_at": now()}
    for step, body in (("information-requests", noted), ("responses", {"text": longest(20000)})):
        response = await defects.post(f"/v1/claims/{claim_id}/{step}", json=body, headers=A)
        assert response.status_code == 200, response.text

    expected = {
        "order.created",
        "shipment.confirmed",
        "shipment.scanned",
        "refund.issued",
        "return.authorized",
        "pickup.scheduled",
        "claim.filed",
        "claim.responded",
        "feedback.received",
    }

    async def traced() -> Any:
        trace = await applied("analytics", f"/v1/orders/{oid}/trace")
        types = {e["type"] for e in (trace or {}).get("events", [])}
        return expected <= types or None

    await eventually(traced, timeout=90, interval=0.5)

    async def confirmed_at_ingest() -> Any:
        view = await applied("ingest", f"/v1/orders/{oid}")
        return (view or {}).get("amazon_shipment_confirmations")

    await eventually(confirmed_at_ingest, timeout=60)

    async def claim_knows_the_refund() -> Any:
        claim = await applied("defects", f"/v1/claims/{claim_id}")
        return claim and claim["evidence_packet"].get("refunds")

    await eventually(claim_knows_the_refund, timeout=60)

    async def reported(path: str, day: str) -> Any:
        answer = await analytics.get(path, params={"from": day, "to": day}, headers=A)
        assert answer.status_code == 200, answer.text
        return answer.json()["items" if "ads" in path else "totals"] or None

    [ads] = await eventually(lambda: reported("/v1/ads/summary", "2099-12-31"), timeout=60)
    assert ads["impressions"] == inputs.INT64_MAX
    [sales] = await eventually(lambda: reported("/v1/sales", "1970-01-01"), timeout=60)
    assert sales["orders"] >= 2, sales  # the edge orders, bought at the first moment

    async def uploaded() -> Any:
        view = await applied("ingest", f"/v1/uploads/{upload.json()['upload_id']}")
        return view if view and view["status"] == "done" else None

    assert (await eventually(uploaded, timeout=60))["rows_accepted"] == 1
    await eventually(lambda: applied("fulfillment", f"/v1/orders/{report_row[0]}"), timeout=60)
    assert await _dead_letters(platform) == {name: [] for name in SERVICES}


async def _dead_letters(platform: dict[str, RunningService]) -> dict[str, list[Any]]:
    found = {}
    for name, running in platform.items():
        response = await running.client.get("/v1/dead-letters", headers=OPS)
        assert response.status_code == 200, response.text
        found[name] = [
            (d["topic"], d["event_type"], d["error_message"][:300])
            for d in response.json()["items"]
        ]
    return found


async def test_a_hostile_correlation_id_is_refused_by_every_service(
    platform: dict[str, RunningService],
) -> None:
    """X-Correlation-Id goes into every log line and event of the request: 1 to 128 letters,
    digits, '.', '_', ':' or '-', or a 400 (the middleware's, before any route)."""
    wrong = []
    for service, running in platform.items():
        for cls, value in {**hostile.STRINGS, "space": "a b", "slash": "a/b"}.items():
            text = hostile.as_text(value)
            if text is None:
                continue
            headers = {**OPS, "X-Correlation-Id": text[:30_000].encode()}
            response = await running.client.get("/v1/dead-letters", headers=headers)
            problem = refused(response)
            if problem or response.status_code != 400:
                wrong.append(f"{service} {cls}: {problem}")
        fine = await running.client.get(
            "/v1/dead-letters", headers={**OPS, "X-Correlation-Id": "req-1.a_b:c"}
        )
        assert fine.headers["x-correlation-id"] == "req-1.a_b:c"
    assert not wrong, "\n".join(wrong)


async def test_nothing_sent_here_was_dead_lettered_by_any_consumer(
    platform: dict[str, RunningService],
) -> None:
    """Last: after every hostile request and every edge value, no consumer holds a dead letter
    (a refused request publishes nothing; an accepted one is applied everywhere)."""
    assert await _dead_letters(platform) == {name: [] for name in SERVICES}
