"""ASGI middleware: correlation ids, the request-size cap and request metrics.

The body cap (``MAX_BODY_BYTES``) holds for every request, whatever its framing: a declared
``Content-Length`` over the cap is refused before reading, and a body sent in chunks is read
up to the cap before the application sees any of it, so every route answers the same 413
problem (a route's own body parser never meets a half-read stream). An ``X-Correlation-Id``
that is not 1 to 128 letters, digits, '.', '_', ':' or '-' is refused with 400: it goes into
every log line and event of the request.

An error no handler took is answered here (``problems.unexpected_response``: a 500 problem, or
503 for a dependency down) while the correlation id is still bound: Starlette's
ServerErrorMiddleware, which would otherwise answer it, runs outside every middleware, after
this one has unbound the id. Logged here once, the error is not raised on to the server, which
would log it a second time.
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared import inputs, metrics
from shared.api import media
from shared.api.problems import problem_response, unexpected_response
from shared.logs import correlation_id

log = logging.getLogger(__name__)

CORRELATION_HEADER = b"x-correlation-id"
_CORRELATION_ID = re.compile(inputs.CORRELATION_ID)


class RequestContextMiddleware:
    def __init__(self, app: ASGIApp, *, service: str, max_body_bytes: int) -> None:
        self.app = app
        self.service = service
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        cid = headers.get(CORRELATION_HEADER, b"").decode("latin-1")
        valid = not cid or _CORRELATION_ID.fullmatch(cid) is not None
        token = correlation_id.set(cid if cid and valid else str(uuid.uuid4()))
        started = time.perf_counter()
        status: dict[str, Any] = {"code": 500, "started": False}
        tagging = self._tagging(send, status)
        try:
            if not valid:
                await self._refuse_correlation_id(scope, receive, tagging)
                return
            body = None if self._declared_too_large(headers) else await self._read(scope, receive)
            if body is None:
                await self._too_large(scope, receive, tagging)
                return
            await self.app(scope, body, tagging)
        except Exception as exc:
            if status["started"]:  # too late to answer: the server ends the response
                log.error("unhandled error after the response started", exc_info=exc)
                raise
            await unexpected_response(exc, scope.get("path", ""))(scope, receive, tagging)
        finally:
            self._observe(scope, status["code"], time.perf_counter() - started)
            correlation_id.reset(token)

    def _declared_too_large(self, headers: dict[bytes, bytes]) -> bool:
        length = headers.get(b"content-length")
        return length is not None and length.isdigit() and int(length) > self.max_body_bytes

    async def _read(self, scope: Scope, receive: Receive) -> Receive | None:
        """The request's body read in full (None: over the cap), replayed to the application,
        whose first read checks the body's media type (``media.check``) once routed.

        A body that came in one message (most do) is handed on as it is."""
        first = await receive()
        messages = [first]
        size = len(first.get("body", b""))
        while first["type"] == "http.request" and messages[-1].get("more_body", False):
            message = await receive()
            if message["type"] != "http.request":
                messages.append(message)
                break
            size += len(message.get("body", b""))
            if size > self.max_body_bytes:
                return None
            messages.append(message)
        if size > self.max_body_bytes:
            return None
        if len(messages) > 1 and all(m["type"] == "http.request" for m in messages):
            body = b"".join(m.get("body", b"") for m in messages)
            messages = [{"type": "http.request", "body": body, "more_body": False}]
        return _replay(messages, receive, scope)

    async def _too_large(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = problem_response(
            413,
            "Payload Too Large",
            f"The request body is larger than {self.max_body_bytes} bytes (MAX_BODY_BYTES).",
            instance=scope.get("path"),
            errors=[{"field": "body", "message": f"at most {self.max_body_bytes} bytes"}],
        )
        await response(scope, receive, send)

    async def _refuse_correlation_id(self, scope: Scope, receive: Receive, send: Send) -> None:
        pattern = {"type": "string_pattern_mismatch", "ctx": {"pattern": inputs.CORRELATION_ID}}
        message = inputs.describe(pattern)
        response = problem_response(
            400,
            "Invalid header",
            f"X-Correlation-Id {message}.",
            instance=scope.get("path"),
            errors=[{"field": "header.X-Correlation-Id", "message": message}],
        )
        await response(scope, receive, send)

    def _tagging(self, send: Send, status: dict[str, Any]) -> Send:
        async def wrapped(message: Message) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
                status["started"] = True
                cid = (correlation_id.get() or "").encode()
                message["headers"] = [*message.get("headers", []), (CORRELATION_HEADER, cid)]
            await send(message)

        return wrapped

    def _observe(self, scope: Scope, status: int, seconds: float) -> None:
        route = getattr(scope.get("route"), "path", None) or "unmatched"
        method = scope.get("method", "")
        metrics.HTTP_REQUESTS.labels(self.service, method, route, str(status)).inc()
        metrics.HTTP_LATENCY.labels(self.service, method, route).observe(seconds)


def _replay(
    messages: list[Message], receive: Receive, scope: Scope
) -> Callable[[], Awaitable[Message]]:
    pending = list(messages)
    unchecked = [media.has_body(scope)]

    async def replayed() -> Message:
        if unchecked[0]:
            unchecked[0] = False
            media.check(scope)
        return pending.pop(0) if pending else await receive()

    return replayed
