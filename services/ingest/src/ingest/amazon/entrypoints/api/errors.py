"""The gateway's domain errors as HTTP problems: the one place they are mapped."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from ingest.amazon.domain.errors import (
    ConfirmationNotFound,
    ConnectionExists,
    ConnectionNotFound,
    InvalidTransition,
    SpApiError,
    SpApiUnavailable,
    SubmissionNotFound,
    UnknownSellingPartner,
)
from shared.api.problems import problem_response

_STATUS: dict[type[SpApiError], tuple[int, str]] = {
    ConnectionNotFound: (404, "Not Found"),
    ConfirmationNotFound: (404, "Not Found"),
    SubmissionNotFound: (404, "Not Found"),
    ConnectionExists: (409, "Already connected"),
    InvalidTransition: (409, "Invalid transition"),
    UnknownSellingPartner: (404, "Unknown SellerId"),
    SpApiUnavailable: (503, "SP-API unavailable"),
}


def install(app: FastAPI) -> None:
    @app.exception_handler(SpApiError)
    async def _gateway_error(request: Request, exc: SpApiError) -> JSONResponse:
        status, title = _STATUS.get(type(exc), (400, "Bad Request"))
        return problem_response(status, title, str(exc), instance=request.url.path)
