"""Flat-file uploads and the jobs that process them, the same way in every service.

``read_file`` takes the file from the multipart field ``file`` or, for scripts, the raw body
(name in ``X-Filename``), refusing more than ``max_bytes`` with 413. ``spawn_job`` runs the
processing in the API process; jobs still running at shutdown are cancelled, and each service
resumes unfinished uploads from its database on start.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any

from fastapi import FastAPI, Request

from shared.api.openapi import body_of
from shared.api.problems import Problem

FILE_BODY = body_of(
    {
        "type": "object",
        "properties": {"file": {"type": "string", "format": "binary"}},
        "required": ["file"],
    },
    media_type="multipart/form-data",
)


async def read_file(request: Request, *, max_bytes: int) -> tuple[str | None, bytes]:
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
    else:
        filename, content = request.headers.get("x-filename"), await request.body()
    if len(content) > max_bytes:
        raise Problem(413, "File too large", f"An upload holds at most {max_bytes} bytes.")
    return filename, content


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
