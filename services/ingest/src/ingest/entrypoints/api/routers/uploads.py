"""``/v1/uploads``: flat-file order reports as jobs with progress and row-level errors."""

from __future__ import annotations

import uuid
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
from shared.api.files import FILE_BODY, read_file, spawn_job
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
    filename, content = await read_file(request)
    async with uow:
        row, duplicate = await uploads.register(
            uow, seller_id=seller, filename=filename, content=content, pii=pii
        )
    if duplicate:
        response.status_code = 200
    else:
        _start(request, row.id)
    response.headers["Location"] = f"/v1/uploads/{row.id}"
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
    done = row.orders_done / row.orders_total * 100 if row.orders_total else 100.0
    return UploadOut(
        upload_id=str(row.id),
        status=row.status,
        filename=row.filename,
        duplicate=duplicate,
        rows_total=row.rows_total,
        rows_processed=row.rows_processed,
        rows_accepted=row.rows_accepted,
        rows_rejected=row.rows_rejected,
        orders_total=row.orders_total,
        orders_done=row.orders_done,
        percent_done=round(done, 1),
        created_at=row.created_at,
        finished_at=row.finished_at,
        errors=row.errors,
    )
