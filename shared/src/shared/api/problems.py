"""RFC 9457 problem responses (``application/problem+json``) for every error a service returns.

A client's mistake is a 4xx naming the field; an unavailable dependency is a 503 with
``Retry-After``; nothing leaks a stack trace or buyer data. Every problem has a ``detail``:
one given, else the fields at fault (``field: message; ...``), else its title.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from shared import inputs
from shared.errors import MAYBE_TRANSIENT, is_transient
from shared.logs import correlation_id

log = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"


class Problem(Exception):
    """Raise to answer with a problem document."""

    def __init__(
        self,
        status: int,
        title: str,
        detail: str | None = None,
        *,
        type_: str = "about:blank",
        errors: Sequence[dict[str, Any]] | None = None,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(detail or title)
        self.status, self.title, self.detail, self.type = status, title, detail, type_
        self.errors, self.headers, self.extra = errors, headers, extra


def problem_response(
    status: int,
    title: str,
    detail: str | None = None,
    *,
    instance: str | None = None,
    errors: Sequence[dict[str, Any]] | None = None,
    headers: dict[str, str] | None = None,
    type_: str = "about:blank",
    **extra: Any,
) -> JSONResponse:
    body: dict[str, Any] = {"type": type_, "title": title, "status": status}
    body["detail"] = detail or (inputs.summary(list(errors)) if errors else "") or title
    if instance:
        body["instance"] = instance
    if errors:
        body["errors"] = list(errors)
    body.update(extra)
    return JSONResponse(body, status_code=status, headers=headers, media_type=PROBLEM_JSON)


def field_errors(exc: RequestValidationError) -> list[dict[str, Any]]:
    """Pydantic's errors as ``{field, message, type}``, never echoing the input (may be PII)."""
    return list(inputs.field_errors(exc.errors()))


def install_problem_handlers(app: FastAPI) -> None:
    @app.exception_handler(Problem)
    async def _problem(request: Request, exc: Problem) -> JSONResponse:
        return problem_response(
            exc.status,
            exc.title,
            exc.detail,
            instance=request.url.path,
            errors=exc.errors,
            headers=exc.headers,
            type_=exc.type,
            **exc.extra,
        )

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = field_errors(exc)
        if any(e["type"] == "json_invalid" for e in errors):
            return problem_response(
                400,
                "Malformed JSON",
                "The request body is not valid JSON.",
                instance=request.url.path,
                errors=errors,
            )
        return problem_response(
            422, "Invalid request", inputs.summary(errors), instance=request.url.path, errors=errors
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return problem_response(
            exc.status_code,
            _title(exc.status_code),
            str(exc.detail),
            instance=request.url.path,
            errors=getattr(exc, "errors", None),
            headers=dict(exc.headers) if exc.headers else None,
        )

    async def _unavailable(request: Request, exc: Exception) -> JSONResponse:
        if not is_transient(exc):
            raise exc  # on to the handler of last resort below: a 500
        log.warning("dependency unavailable", extra={"error": repr(exc)[:300]})
        return problem_response(
            503,
            "Service Unavailable",
            "A dependency is unavailable; retry shortly.",
            instance=request.url.path,
            headers={"Retry-After": "2"},
        )

    # By class, so Starlette's ExceptionMiddleware answers them. A handler of ``Exception``
    # runs in ServerErrorMiddleware, which re-raises after answering so that the server logs
    # it too: every 503 of a database outage was logged twice, the second time by uvicorn as
    # "Exception in ASGI application" with a traceback.
    for kind in MAYBE_TRANSIENT:
        app.add_exception_handler(kind, _unavailable)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        # Only what escapes RequestContextMiddleware gets here (it answers everything raised
        # inside it, with the request's correlation id bound): bind the id it left in the
        # request's state, if any, for this last line.
        cid = getattr(request.state, "correlation_id", None)
        token = correlation_id.set(cid) if cid and correlation_id.get() is None else None
        try:
            return unexpected_response(exc, request.url.path)
        finally:
            if token is not None:
                correlation_id.reset(token)


def unexpected_response(exc: Exception, instance: str) -> JSONResponse:
    """The answer to an error no handler took: 503 if a dependency is down, else a 500, logged
    once with its traceback (and the correlation id bound by the caller)."""
    if is_transient(exc):  # a failure wrapped in a class the handlers above do not name
        log.warning("dependency unavailable", extra={"error": repr(exc)[:300]})
        return problem_response(
            503,
            "Service Unavailable",
            "A dependency is unavailable; retry shortly.",
            instance=instance,
            headers={"Retry-After": "2"},
        )
    log.error("unhandled error", exc_info=exc)
    return problem_response(
        500, "Internal Server Error", "Unexpected error; it was logged.", instance=instance
    )


def _title(status: int) -> str:
    from http import HTTPStatus

    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"
