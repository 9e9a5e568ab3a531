"""Intake's domain errors as HTTP problems: the one place they are mapped. An ``IngestError``
without an entry here (the gateway's have their own table) is a 400."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from ingest.intake.domain.errors import (
    IngestError,
    OrderOwnedElsewhere,
    UnreadableUpload,
    UploadNotFound,
)
from shared.api.problems import problem_response

_STATUS: dict[type[IngestError], tuple[int, str]] = {
    OrderOwnedElsewhere: (409, "Order belongs to another account"),
    UploadNotFound: (404, "Not Found"),
    UnreadableUpload: (422, "Unreadable file"),
}


def install(app: FastAPI) -> None:
    @app.exception_handler(IngestError)
    async def _ingest_error(request: Request, exc: IngestError) -> JSONResponse:
        status, title = _STATUS.get(type(exc), (400, "Bad Request"))
        return problem_response(status, title, str(exc), instance=request.url.path)
