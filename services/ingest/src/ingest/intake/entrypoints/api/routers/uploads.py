"""``/v1/uploads``: flat-file order reports as jobs with progress and row-level errors."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Request, Response

from ingest.intake.domain import commands
from ingest.intake.entrypoints.api.deps import Cipher, Deps, IntakeDependencies, UoW
from ingest.intake.entrypoints.api.schemas import UploadOut
from ingest.intake.service_layer import handlers, queries, uploads
from shared import topics
from shared.api.auth import ActingSeller, VisibleSeller
from shared.api.files import FILE_BODY, read_file, spawn_job

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
    deps: Deps,
) -> UploadOut:
    filename, content = await read_file(request)
    command = commands.RegisterUpload(seller_id=seller, filename=filename, content=content)
    async with uow:
        row, duplicate = await handlers.register_upload(uow, command=command, pii=pii)
        await uow.commit()
    if duplicate:
        response.status_code = 200
    else:
        _start(request, deps, row.id)
    response.headers["Location"] = f"/v1/uploads/{row.id}"
    return _out(row, duplicate=duplicate)


def _start(request: Request, deps: IntakeDependencies, upload_id: uuid.UUID) -> None:
    settings = deps.settings
    spawn_job(
        request.app,
        uploads.process(
            deps.intake_uow,
            upload_id,
            pii=deps.pii,
            topic=settings.topic(topics.ORDERS),
            chunk=settings.upload_chunk_orders,
        ),
    )


@router.get("/{upload_id}", response_model=UploadOut, summary="An upload's progress and errors")
async def get_upload(upload_id: uuid.UUID, seller: VisibleSeller, uow: UoW) -> UploadOut:
    return _out(await queries.upload(uow, upload_id=upload_id, seller_id=seller))


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
