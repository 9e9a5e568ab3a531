"""Defects' domain errors as HTTP problems: the one place they are mapped.

NotFound -> 404; InvalidTransition, DeadlinePassed and AlreadyRecorded -> 409 (saying why);
InvalidInput -> 422 naming ``body.<field>``; RejectedEvidence -> 413, 415 or 422.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from defects.domain.errors import (
    AlreadyRecorded,
    DeadlinePassed,
    DefectsError,
    InvalidInput,
    InvalidTransition,
    NotFound,
    RejectedEvidence,
)
from shared.api.problems import problem_response

_STATUS: dict[type[DefectsError], tuple[int, str]] = {
    NotFound: (404, "Not Found"),
    InvalidTransition: (409, "Transition not allowed"),
    DeadlinePassed: (409, "Deadline passed"),
    AlreadyRecorded: (409, "Already recorded"),
    InvalidInput: (422, "Invalid request"),
    RejectedEvidence: (422, "Evidence file refused"),
}


def install(app: FastAPI) -> None:
    @app.exception_handler(DefectsError)
    async def _defects_error(request: Request, exc: DefectsError) -> JSONResponse:
        status, title = _STATUS.get(type(exc), (400, "Bad Request"))
        errors = None
        if isinstance(exc, InvalidInput):
            errors = [{"field": f"body.{exc.field}", "message": exc.message}]
        if isinstance(exc, RejectedEvidence):
            status = exc.status
        response: JSONResponse = problem_response(
            status, title, str(exc), instance=request.url.path, errors=errors
        )
        return response
