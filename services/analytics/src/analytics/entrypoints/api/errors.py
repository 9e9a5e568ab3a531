"""Analytics' domain errors as HTTP problems: the one place they are mapped."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from analytics.domain.errors import (
    AnalyticsError,
    InvalidQuery,
    InvalidTransition,
    NotThisSellersOrder,
)
from shared.api.problems import problem_response

_STATUS: dict[type[AnalyticsError], tuple[int, str]] = {
    InvalidQuery: (422, "Invalid request"),
    InvalidTransition: (409, "Invalid transition"),
    NotThisSellersOrder: (404, "Not Found"),
}


def install(app: FastAPI) -> None:
    @app.exception_handler(AnalyticsError)
    async def _analytics_error(request: Request, exc: AnalyticsError) -> JSONResponse:
        status, title = _STATUS.get(type(exc), (400, "Bad Request"))
        errors = None
        extra: dict[str, Any] = {}
        if isinstance(exc, InvalidQuery):
            errors = [{"field": exc.field, "message": exc.message}]
        if isinstance(exc, NotThisSellersOrder):
            extra["diagnosis"] = exc.findings
            extra["connection"] = exc.connection
        return problem_response(
            status, title, str(exc), instance=request.url.path, errors=errors, **extra
        )
