"""ASGI middleware: correlation ids, request-size cap and request metrics.

The correlation id (the request's ``X-Correlation-Id``, else a new one) is bound for everything
the request runs and answered in the same header. An error no handler took is answered here
(``problems.unexpected_response``: a 500 problem, or 503 for a dependency down), while the id
is still bound: Starlette's ServerErrorMiddleware, which would otherwise answer it, runs outside
every middleware, after this one has unbound the id, so its log line had none (issue 23) and
its 500 carried no ``X-Correlation-Id``. Logged here once, the error is not raised on to the
server, which would log it a second time.
"""

from __future__ import annotations

import logging
import time
import uuid
from typing import Any

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared import metrics
from shared.api.problems import unexpected_response
from shared.logs import correlation_id

log = logging.getLogger(__name__)

CORRELATION_HEADER = b"x-correlation-id"


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
        cid = headers.get(CORRELATION_HEADER, b"").decode(errors="ignore")[:128] or str(
            uuid.uuid4()
        )
        token = correlation_id.set(cid)
        scope.setdefault("state", {})["correlation_id"] = cid
        started = time.perf_counter()
        status: dict[str, Any] = {"code": 500, "started": False}
        tagged = self._tagging(send, status)
        try:
            if self._declared_too_large(headers):
                await _too_large(send, self.max_body_bytes)
                status["code"] = 413
                return
            await self.app(scope, self._capped(receive), tagged)
        except Exception as exc:
            if status["started"]:  # too late to answer: the server ends the response
                log.error("unhandled error after the response started", exc_info=exc)
                raise
            path = scope.get("path", "")
            await unexpected_response(exc, path)(scope, receive, tagged)
        finally:
            self._observe(scope, status["code"], time.perf_counter() - started)
            correlation_id.reset(token)

    def _declared_too_large(self, headers: dict[bytes, bytes]) -> bool:
        length = headers.get(b"content-length")
        return length is not None and length.isdigit() and int(length) > self.max_body_bytes

    def _capped(self, receive: Receive) -> Receive:
        seen = 0

        async def wrapped() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_body_bytes:
                    raise BodyTooLarge()
            return message

        return wrapped

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


class BodyTooLarge(Exception):
    """The streamed request body passed the size cap."""


async def _too_large(send: Send, limit: int) -> None:
    body: dict[str, Any] = {
        "type": "about:blank",
        "title": "Payload Too Large",
        "status": 413,
        "detail": f"The request body is larger than {limit} bytes.",
    }
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [(b"content-type", b"application/problem+json")],
        }
    )
    await send({"type": "http.response.body", "body": orjson.dumps(body)})
