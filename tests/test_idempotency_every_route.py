"""Every POST and PATCH in the four services' OpenAPI documents honours ``Idempotency-Key``.

The operations come from each service's published document, so a new route that creates or
changes something is checked the day it is added. For each one the test puts a key in the
service's database as an earlier attempt would have left it, sends the request under that key,
and expects the rule for that state: another request's key is refused (422), a key whose first
attempt still runs is refused (409), a finished key answers its stored response. Only an
operation marked ``x-changes-nothing`` is left out (none is today); GET, HEAD, OPTIONS (safe),
PUT and DELETE (idempotent by definition) take no key. See docs/idempotency.md.
"""

from __future__ import annotations

import importlib
import re
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from sqlalchemy import func, insert, text

from orderflow_testkit.harness import RunningService, running_service
from shared.api.idempotency import HEADER, fingerprint
from shared.settings import ServiceSettings

pytestmark = pytest.mark.integration

SELLER = "A2SELLER1EXAMPLE"
KEYS = f"seller-key=seller:{SELLER},ops-key=ops"
PII_KEY = "n_BqP4SNyVeTHYn4Gjx04lJgXmwo1DbEEpWiUaOM2Qs="
AS_SELLER = {"Authorization": "Bearer seller-key"}
PROBLEMS = "urn:orderflow:problem:"
SERVICES = {
    "ingest": "IngestSettings",
    "fulfillment": "FulfillmentSettings",
    "defects": "DefectsSettings",
    "analytics": "AnalyticsSettings",
}


@pytest.fixture(params=list(SERVICES))
async def service(
    request: pytest.FixtureRequest, make_database: Callable[[str], str]
) -> AsyncIterator[RunningService]:
    name = request.param
    spec = importlib.import_module(f"{name}.bootstrap").SPEC
    settings_class = getattr(importlib.import_module(f"{name}.settings"), SERVICES[name])
    settings: ServiceSettings = settings_class(
        DATABASE_URL=make_database(f"idem_{name}"),
        ORDERFLOW_API_KEYS=KEYS,
        ORDERFLOW_PII_KEY=PII_KEY,
    )
    async with running_service(spec, settings, roles=()) as svc:
        yield svc


def _operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method.upper(), path, operation)
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if method in ("post", "patch") and not operation.get("x-changes-nothing")
    ]


def _concrete(path: str, operation: dict[str, Any]) -> str:
    """The path with a value of the right shape in each parameter."""
    kinds = {
        p["name"]: p.get("schema", {}) for p in operation.get("parameters", []) if p["in"] == "path"
    }

    def value(match: re.Match[str]) -> str:
        schema = kinds.get(match.group(1), {})
        if schema.get("format") == "uuid":
            return str(uuid.uuid4())
        return "1" if schema.get("type") == "integer" else "111-0000000-0000001"

    return re.sub(r"\{(\w+)\}", value, path)


# The media type a request is sent with: the route's own (routes refuse others with 415).
PREFERRED = ("application/json", "text/csv", "text/plain", "application/octet-stream")


def _media(operation: dict[str, Any]) -> str:
    content = operation.get("requestBody", {}).get("content", {})
    return next((m for m in PREFERRED if m in content or not content), next(iter(content), ""))


async def _seed(
    svc: RunningService, key: str, method: str, path: str, media: str, **state: Any
) -> None:
    table = svc.resources.tables.idempotency_keys
    row = {
        "scope": f"seller:{SELLER}",
        "key": key,
        "fingerprint": fingerprint(
            method=method, path=path, query="", content_type=media, body=b"{}"
        ),
        "method": method,
        "path": path,
        "owner": uuid.uuid4(),
        "locked_until": func.now() + text("interval '1 hour'"),
    }
    async with svc.resources.sessions() as session, session.begin():
        await session.execute(insert(table).values({**row, **state}))


async def test_every_post_and_patch_honours_the_idempotency_key(service: RunningService) -> None:
    document = (await service.client.get("/openapi.json")).json()
    operations = _operations(document)
    assert operations, "every service has at least the dead-letter replays"
    for method, template, operation in operations:
        where = f"{method} {template}"
        names = [p["name"] for p in operation.get("parameters", []) if p["in"] == "header"]
        assert HEADER in names, f"{where} does not document {HEADER}"
        path, media = _concrete(template, operation), _media(operation)
        headers = {**AS_SELLER, "Content-Type": media}

        async def send(
            key: str, path: str = path, method: str = method, headers: dict[str, str] = headers
        ) -> Any:
            return await service.client.request(
                method, path, content=b"{}", headers={**headers, HEADER: key}
            )

        reused = str(uuid.uuid4())
        await _seed(service, reused, method, path, media, fingerprint="another request")
        answer = await send(reused)
        assert answer.status_code == 422, f"{where}: {answer.text}"
        assert answer.json()["type"] == PROBLEMS + "idempotency-key-reused", where

        running = str(uuid.uuid4())
        await _seed(service, running, method, path, media)
        answer = await send(running)
        assert answer.status_code == 409, f"{where}: {answer.text}"
        assert answer.json()["type"] == PROBLEMS + "idempotency-key-in-progress", where

        done = str(uuid.uuid4())
        stored = b'{"stored": "first response"}'
        await _seed(
            service,
            done,
            method,
            path,
            media,
            committed_at=func.now(),
            status=201,
            headers={"content-type": "application/json", "location": "/v1/first"},
            body=stored,
        )
        answer = await send(done)
        assert (answer.status_code, answer.content) == (201, stored), where
        assert answer.headers["location"] == "/v1/first", where
        assert answer.headers["idempotent-replayed"] == "true", where
