"""``/v1/uploads``: flat-file order reports as jobs with progress and row-level errors."""

from __future__ import annotations

import uuid
from functools import partial
from typing import Any

from fastapi import APIRouter, Request, Response

from ingest.domain.errors import UploadNotFound
from ingest.entrypoints.api.deps import Cipher, UoW
from ingest.entrypoints.api.schemas import UploadOut
from ingest.service_layer import uploads
from ingest.service_layer.unit_of_work import UnitOfWork
from shared import topics
from shared import uploads as upload_jobs
from shared.api.auth import ActingSeller, VisibleSeller
from shared.api.files import FILE_BODY, accept_upload, spawn_job
from shared.clock import utc_now

router = APIRouter(prefix="/v1/uploads", tags=["uploads"])


@router.post(
    "",
    status_code=202,
    response_model=UploadOut,
    summary="Upload an order report (tab- or comma-separated); processed as a job",
    openapi_extra=FILE_BODY,
    responses={200: {"model": UploadOut, "description": "the same file was uploaded before"}},
)
async def post_upload(
    request: Request,
    response: Response,
    seller: ActingSeller,
    uow: UoW,
    pii: Cipher,
) -> UploadOut:
    register = partial(uploads.register, uow, seller_id=seller, pii=pii)
    start = partial(_start, request)
    row, duplicate = await accept_upload(
        request, response, uow, register, start=start, location=router.prefix
    )
    return _out(row, duplicate=duplicate)


def _start(request: Request, upload_id: uuid.UUID) -> None:
    resources = request.app.state.resources
    settings = resources.settings
    job = uploads.job(
        lambda: UnitOfWork(resources.sessions),
        pii=resources.extras["pii"],
        topic=settings.topic(topics.ORDERS),
        chunk=settings.upload_chunk_orders,
        clock=utc_now,
    )
    spawn_job(request.app, upload_jobs.process(job, upload_id))


@router.get("/{upload_id}", response_model=UploadOut, summary="An upload's progress and errors")
async def get_upload(upload_id: uuid.UUID, seller: VisibleSeller, uow: UoW) -> UploadOut:
    async with uow:
        row = await uow.uploads.get(upload_id, seller_id=seller)
    if row is None:
        raise UploadNotFound(f"No upload {upload_id} for this seller.")
    return _out(row)


def _out(row: Any, *, duplicate: bool = False) -> UploadOut:
    done, total = row.orders_done, row.orders_total
    orders = {"orders_done": done, "orders_total": total, "errors": row.errors}
    return UploadOut.of(row, done=done, total=total, duplicate=duplicate, **orders)
