"""Flat-file uploads and the jobs that process them, the same way in every service.

``read_file`` takes the file from the multipart field ``file`` or, for scripts, the raw body
(``text/csv``, ``text/tab-separated-values``, ``text/plain`` or ``application/octet-stream``;
its name in ``X-Filename``). The request's size cap (``MAX_BODY_BYTES``) bounds the file; its
name must be one line of printable text (``shared.inputs.Filename``). ``spawn_job`` runs the
processing in the API process; jobs still running at shutdown are cancelled, and each service
resumes unfinished uploads from its database on start. ``UploadOut`` is the part of an upload
job's progress every service answers, and ``accept_upload`` the answer to a new upload.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine
from datetime import datetime
from typing import Any, Literal, Self

from fastapi import FastAPI, Request, Response
from pydantic import BaseModel, TypeAdapter, ValidationError

from shared import inputs, uploads
from shared.api.problems import Problem
from shared.unit_of_work import UnitOfWork

RAW_TYPES = ("text/csv", "text/tab-separated-values", "text/plain", "application/octet-stream")
_RAW = {"schema": {"type": "string", "format": "binary"}}
FILE_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "properties": {"file": {"type": "string", "format": "binary"}},
                    "required": ["file"],
                }
            },
            **{media_type: _RAW for media_type in RAW_TYPES},
        },
    },
    "parameters": [
        {
            "name": "X-Filename",
            "in": "header",
            "required": False,
            "description": "the file's name, when the body is the raw file",
            "schema": {"type": "string", "maxLength": 255, "pattern": inputs.LINE_DOC},
        }
    ],
}
_FILENAME: TypeAdapter[str] = TypeAdapter(inputs.Filename)


async def read_file(request: Request) -> tuple[str | None, bytes]:
    if request.headers.get("content-type", "").startswith("multipart/form-data"):
        async with request.form() as form:
            upload = form.get("file")
            if upload is None or isinstance(upload, str):
                raise Problem(
                    422,
                    "File required",
                    "Send the file in the form field 'file'.",
                    errors=[{"field": "body.file", "message": "required"}],
                )
            filename, content = upload.filename, await upload.read()
        field = "body.file.filename"
    else:
        filename, content = _header_text(request, "x-filename"), await request.body()
        field = "header.X-Filename"
    return _filename(filename, field), content


def _header_text(request: Request, name: str) -> str | None:
    """A header's value as UTF-8 (Starlette hands headers over as Latin-1)."""
    value = request.headers.get(name)
    try:
        return None if value is None else value.encode("latin-1").decode("utf-8")
    except UnicodeError:
        message = "must be UTF-8 text"
        errors = [{"field": f"header.{name}", "message": message}]
        raise Problem(422, "Invalid file name", f"{name}: {message}", errors=errors) from None


def _filename(name: str | None, field: str) -> str | None:
    if name is None:
        return None
    try:
        return _FILENAME.validate_python(name)
    except ValidationError as exc:
        errors = [{**e, "field": field} for e in inputs.field_errors(exc.errors())]
        raise Problem(422, "Invalid file name", inputs.summary(errors), errors=errors) from None


def spawn_job(app: FastAPI, job: Coroutine[Any, Any, None]) -> None:
    jobs: set[asyncio.Task[None]] = app.state.jobs
    task = asyncio.create_task(job)
    jobs.add(task)
    task.add_done_callback(jobs.discard)


async def cancel_jobs(app: FastAPI) -> None:
    jobs: set[asyncio.Task[None]] = app.state.jobs
    for task in list(jobs):
        task.cancel()
    await asyncio.gather(*jobs, return_exceptions=True)


class UploadOut(BaseModel):
    upload_id: str
    status: Literal["queued", "processing", "done"]
    filename: str | None
    duplicate: bool = False
    rows_total: int
    rows_processed: int
    rows_accepted: int
    rows_rejected: int
    percent_done: float
    created_at: datetime
    finished_at: datetime | None

    @classmethod
    def of(cls, row: Any, *, done: int, total: int, duplicate: bool, **more: Any) -> Self:
        """From an upload row; ``done`` of ``total`` (rows, orders) is its progress."""
        return cls(
            upload_id=str(row.id),
            status=row.status,
            filename=row.filename,
            duplicate=duplicate,
            rows_total=row.rows_total,
            rows_processed=row.rows_processed,
            rows_accepted=row.rows_accepted,
            rows_rejected=row.rows_rejected,
            percent_done=round(done / total * 100 if total else 100.0, 1),
            created_at=row.created_at,
            finished_at=row.finished_at,
            **more,
        )


def upload_route(model: type[BaseModel], summary: str) -> dict[str, Any]:
    """The options of an upload endpoint's POST route answering ``model``."""
    seen = {"model": model, "description": "the same file was uploaded before"}
    return {
        "status_code": 202,
        "response_model": model,
        "summary": summary,
        "openapi_extra": FILE_BODY,
        "responses": {200: seen},
    }


async def accept_upload(
    request: Request,
    response: Response,
    uow: UnitOfWork,
    register: Callable[..., Awaitable[tuple[Any, bool]]],
    *,
    job: uploads.Job[Any, Any],
    location: str,
) -> tuple[Any, bool]:
    """Read the file and ``register(filename=, content=)`` its job in ``uow``; returns (upload
    row, whether it was a duplicate). A new file: 202 and ``job`` started on it; one uploaded
    before: 200. Location either way."""
    filename, content = await read_file(request)
    async with uow:
        row, duplicate = await register(filename=filename, content=content)
        await uow.commit()
    if duplicate:
        response.status_code = 200
    else:
        spawn_job(request.app, uploads.process(job, row.id))
    response.headers["Location"] = f"{location}/{row.id}"
    return row, duplicate
