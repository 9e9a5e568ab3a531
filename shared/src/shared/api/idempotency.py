"""``Idempotency-Key`` on every POST and PATCH, after the IETF draft and the payment APIs.

A client sends a unique key (a UUID) with a request that creates or changes something and may
send the request again with the same key when it got no answer:

- the same key with the same request (method, path, query, body) answers the first response
  again (status, headers, body, plus ``Idempotent-Replayed: true``) without doing the work again;
- the same key with another request: 422; while the first attempt still runs: 409;
- keys are kept per seller (a key without a seller: per API key) for ``IDEMPOTENCY_KEY_HOURS``.

Pieces: ``IdempotencyMiddleware`` (ASGI, inside the request-context middleware) keeps the body
as it is read and holds the response back until it has kept it (or released the key);
``claim_key`` (an app-wide dependency, after auth and rate limit) claims the key or answers
from it; a ``before_commit`` hook marks the key committed in the transaction that does the
work. The rules and why: docs/adr/0040-idempotency-keys.md.

GET, HEAD and OPTIONS change nothing; PUT and DELETE are idempotent by definition: none takes
a key. A POST that changes nothing declares ``openapi_extra=CHANGES_NOTHING`` and takes none.
"""

from __future__ import annotations

import hashlib
import logging
import re
import uuid
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from fastapi import Depends, FastAPI, Request, Response
from sqlalchemy import Table, event
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.orm import Session
from starlette.middleware import Middleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared import audit, inputs
from shared.api.auth import authenticate
from shared.api.problems import Problem
from shared.db import idempotency as store
from shared.settings import ServiceSettings

log = logging.getLogger(__name__)

HEADER = "Idempotency-Key"
REPLAYED = "Idempotent-Replayed"
METHODS = frozenset({"POST", "PATCH"})
MAX_KEY = 255
_KEY = re.compile(inputs.IDEMPOTENCY_KEY)
CHANGES_NOTHING = {"x-changes-nothing": True}
_STATE = "idempotency"
_PROBLEM = "urn:orderflow:problem:"
# Not kept with a response: recomputed, or about the connection rather than the answer.
_NOT_KEPT = frozenset({b"content-length", b"date", b"server", b"connection"})


@dataclass
class Attempt:
    """One keyed request, from the middleware to the dependency and the commit hook."""

    key: str
    body: list[bytes] = field(default_factory=list)
    body_done: bool = False
    scope: str = ""
    owner: uuid.UUID | None = None
    engine: AsyncEngine | None = None
    table: Table | None = None
    active: bool = True


_current: ContextVar[Attempt | None] = ContextVar("idempotency_attempt", default=None)


class Replay(Exception):
    """Answer with the response the key's first attempt gave."""

    def __init__(self, found: store.Stored) -> None:
        super().__init__("replay")
        self.found = found


def install_idempotency(app: FastAPI, settings: ServiceSettings) -> None:
    """Call after ``install_openapi`` (its document gets the header) and before the routers
    are included (they get the dependency)."""
    app.state.idempotency_lease = timedelta(seconds=settings.idempotency_lease_seconds)
    app.router.dependencies.append(Depends(claim_key))
    app.add_exception_handler(Replay, _replay)  # type: ignore[arg-type]
    # Innermost of the middleware (``add_middleware`` would make it the outermost), so the
    # request-context middleware's size cap applies to the body this one keeps.
    app.user_middleware.append(Middleware(IdempotencyMiddleware))
    if not event.contains(Session, "before_commit", _mark_committed):
        event.listen(Session, "before_commit", _mark_committed)
    _document(app)


class IdempotencyMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        key = _key_of(scope)
        if key is None:
            await self.app(scope, receive, send)
            return
        attempt = Attempt(key=key)
        scope.setdefault("state", {})[_STATE] = attempt
        token = _current.set(attempt)
        held = _Held()
        try:
            await self.app(scope, _keeping(receive, attempt), held.keep)
        finally:
            _current.reset(token)
            attempt.active = False
            await _finish(scope, attempt, held.response())
        # Sent only once kept: a client that has the answer gets it again on a retry.
        for message in held.messages:
            await send(message)


class _Held:
    """The response's messages, held back until the key has kept it."""

    def __init__(self) -> None:
        self.messages: list[Message] = []

    async def keep(self, message: Message) -> None:
        self.messages.append(message)

    def response(self) -> tuple[int, dict[str, str], bytes] | None:
        starts = [m for m in self.messages if m["type"] == "http.response.start"]
        bodies = [m for m in self.messages if m["type"] == "http.response.body"]
        if not starts or not bodies or bodies[-1].get("more_body", False):
            return None  # no complete response (the app raised)
        headers = {
            k.decode("latin-1"): v.decode("latin-1")
            for k, v in starts[0].get("headers", [])
            if k.lower() not in _NOT_KEPT
        }
        return starts[0]["status"], headers, b"".join(m.get("body", b"") for m in bodies)


def _key_of(scope: Scope) -> str | None:
    if scope["type"] != "http" or scope.get("method") not in METHODS:
        return None
    for name, value in scope["headers"]:
        if name == b"idempotency-key":
            return str(value.decode("latin-1"))
    return None


def _keeping(receive: Receive, attempt: Attempt) -> Receive:
    async def wrapped() -> Message:
        message = await receive()
        if message["type"] == "http.request":
            attempt.body.append(message.get("body", b""))
            attempt.body_done = not message.get("more_body", False)
        return message

    return wrapped


async def _finish(
    scope: Scope, attempt: Attempt, response: tuple[int, dict[str, str], bytes] | None
) -> None:
    if attempt.owner is None:
        return
    resources = scope["app"].state.resources
    try:
        await store.finish(
            resources.sessions,
            resources.tables.idempotency_keys,
            scope=attempt.scope,
            key=attempt.key,
            owner=attempt.owner,
            response=response,
        )
    except Exception as exc:  # the key stays claimed; its lease ends and the rules apply
        log.warning("idempotency key not finished", extra={"error": repr(exc)[:300]})


async def claim_key(request: Request) -> None:
    """Claim the request's key, or answer from it (replay, 409, 422)."""
    attempt: Attempt | None = request.scope.get("state", {}).get(_STATE)
    if attempt is None or _changes_nothing(request):
        return
    _check(attempt.key)
    resources = getattr(request.app.state, "resources", None)
    if resources is None:
        return
    attempt.scope = await _scope_of(request)
    if not attempt.body_done:
        await request.body()
    sessions: async_sessionmaker[AsyncSession] = resources.sessions
    table: Table = resources.tables.idempotency_keys
    fingerprint = _fingerprint(request, attempt)
    with audit.outside():  # the claim commits on its own: it is not the request's change
        owner, found = await store.claim(
            sessions,
            table,
            store.Request(
                scope=attempt.scope,
                key=attempt.key,
                fingerprint=fingerprint,
                method=request.method,
                path=request.url.path,
            ),
            lease=request.app.state.idempotency_lease,
        )
    if found is not None:
        _refuse(found, fingerprint, attempt.key)
    attempt.owner, attempt.engine, attempt.table = owner, resources.engine, table


def _changes_nothing(request: Request) -> bool:
    extra = getattr(request.scope.get("route"), "openapi_extra", None) or {}
    return bool(extra.get("x-changes-nothing"))


def _check(key: str) -> None:
    if _KEY.fullmatch(key) is None:
        raise Problem(
            400,
            "Invalid Idempotency-Key",
            f"An Idempotency-Key is 1 to {MAX_KEY} letters, digits, '.', '_', ':' or '-'; "
            "a UUID is best.",
            errors=[
                {"field": f"header.{HEADER}", "message": f"must match {inputs.IDEMPOTENCY_KEY}"}
            ],
        )


async def _scope_of(request: Request) -> str:
    """The seller the request acts for; a key without one is kept per API key."""
    principal = await authenticate(request)
    if principal.role == "seller":
        return f"seller:{principal.seller_id}"
    seller = request.headers.get("x-seller-id")
    if principal.role == "system" and seller:
        return f"seller:{seller}"
    token = request.headers["authorization"].partition(" ")[2].strip()
    return f"key:{hashlib.sha256(token.encode()).hexdigest()}"


def _fingerprint(request: Request, attempt: Attempt) -> str:
    return fingerprint(
        method=request.method,
        path=request.url.path,
        query=request.url.query,
        content_type=request.headers.get("content-type", ""),
        body=b"".join(attempt.body),
    )


def fingerprint(*, method: str, path: str, query: str, content_type: str, body: bytes) -> str:
    """What makes two requests the same: method, path, query, media type and body; a
    multipart body without its boundary (a client draws a new one for each send)."""
    media, _, params = content_type.partition(";")
    media = media.strip().lower()
    boundary = _boundary(params)
    if media.startswith("multipart/") and boundary:
        body = body.replace(b"--" + boundary, b"--")
    digest = hashlib.sha256()
    for part in (method, path, query, media):
        digest.update(part.encode() + b"\0")
    digest.update(body)
    return digest.hexdigest()


def _boundary(params: str) -> bytes | None:
    for param in params.split(";"):
        name, _, value = param.strip().partition("=")
        if name.lower() == "boundary" and value:
            return value.strip('"').encode("latin-1")
    return None


def _refuse(found: store.Stored, fingerprint: str, key: str) -> None:
    if found.fingerprint != fingerprint:
        raise Problem(
            422,
            "Idempotency-Key reused",
            f"The Idempotency-Key {key!r} was first used for {found.method} {found.path} with "
            "another method, path, query or body than this request's; use a new key for a new "
            "request.",
            type_=_PROBLEM + "idempotency-key-reused",
        )
    if found.status is not None:
        raise Replay(found)
    if found.running:
        raise Problem(
            409,
            "Request in progress",
            f"A request with the Idempotency-Key {key!r} is still being processed; "
            "retry after it has finished to get its response.",
            type_=_PROBLEM + "idempotency-key-in-progress",
            headers={"Retry-After": "1"},
        )
    raise Problem(
        409,
        "Request carried out, response lost",
        f"The request with the Idempotency-Key {key!r} was carried out, but the service stopped "
        "before keeping its response. It will not run again: read the resource to see the result.",
        type_=_PROBLEM + "idempotency-key-response-lost",
    )


async def _replay(request: Request, exc: Replay) -> Response:
    found = exc.found
    assert found.status is not None
    headers = {**(found.headers or {}), REPLAYED: "true"}
    return Response(content=found.body or b"", status_code=found.status, headers=headers)


def _mark_committed(session: Session) -> None:
    """``before_commit`` of every session: in a keyed request's own database, the transaction
    about to commit is the request's work; mark the key committed in it."""
    attempt = _current.get()
    if attempt is None or not attempt.active or attempt.owner is None:
        return
    assert attempt.engine is not None and attempt.table is not None
    if session.bind is not attempt.engine.sync_engine:
        return
    try:
        store.mark_committed(session, attempt.table, attempt.scope, attempt.key, attempt.owner)
    except store.Superseded as exc:
        raise Problem(
            409,
            "Request superseded",
            f"This request outlived its hold on the Idempotency-Key {attempt.key!r} and a "
            "retry took it over; nothing of this request was kept.",
            type_=_PROBLEM + "idempotency-key-superseded",
        ) from exc


def _document(app: FastAPI) -> None:
    """Document the header on every operation that takes it."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        document = build()
        for path in document.get("paths", {}).values():
            for method, operation in path.items():
                if method.upper() in METHODS and not operation.get("x-changes-nothing"):
                    operation.setdefault("parameters", []).append(PARAMETER)
        return document

    app.openapi = openapi  # type: ignore[method-assign]


PARAMETER = {
    "name": HEADER,
    "in": "header",
    "required": False,
    "description": (
        "A unique key (a UUID) for this request. Sent again with the same request, it answers "
        "the first response (with `Idempotent-Replayed: true`) without doing the work again; "
        "with another request: 422; while the first still runs: 409. Kept per seller for "
        "IDEMPOTENCY_KEY_HOURS (24 by default). See docs/idempotency.md."
    ),
    "schema": {
        "type": "string",
        "minLength": 1,
        "maxLength": MAX_KEY,
        "pattern": inputs.IDEMPOTENCY_KEY,
    },
}
