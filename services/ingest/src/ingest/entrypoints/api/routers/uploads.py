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
from shared.api.auth import ActingSeller, VisibleSeller
from shared.api.files import accept_upload, upload_route
from shared.clock import utc_now
from shared.uploads import Job

router = APIRouter(prefix="/v1/uploads", tags=["uploads"])


@router.post(
    "",
    **upload_route(
        UploadOut, "Upload an order report (tab- or comma-separated); processed as a job"
    ),
)
async def post_upload(
    request: Request,
    response: Response,
    seller: ActingSeller,
    uow: UoW,
    pii: Cipher,
) -> UploadOut:
    register = partial(uploads.register, uow, seller_id=seller, pii=pii)
    row, duplicate = await accept_upload(
        request, response, uow, register, job=_job(request), location=router.prefix
    )
    return _out(row, duplicate=duplicate)


def _job(request: Request) -> Job[UnitOfWork, Any]:
    resources = request.app.state.resources
    settings = resources.settings
    return uploads.job(
        lambda: UnitOfWork(resources.sessions),
        pii=resources.extras["pii"],
        topic=settings.topic(topics.ORDERS),
        chunk=settings.upload_chunk_orders,
        clock=utc_now,
    )


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
