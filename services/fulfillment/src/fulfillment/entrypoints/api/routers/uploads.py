"""``/v1/shipments/uploads``: Amazon's shipment-confirmation flat file as a job with progress."""

from __future__ import annotations

import uuid
from functools import partial
from typing import Any

from fastapi import APIRouter, Request, Response

from fulfillment.dependencies import Dependencies
from fulfillment.entrypoints.api.deps import UoW
from fulfillment.entrypoints.api.schemas import UploadOut
from fulfillment.service_layer import queries, uploads
from fulfillment.service_layer.unit_of_work import UnitOfWork
from shared.api.auth import ActingSeller, VisibleSeller
from shared.api.files import accept_upload, upload_route
from shared.uploads import Job

router = APIRouter(prefix="/v1/shipments/uploads", tags=["shipment uploads"])


@router.post(
    "", **upload_route(UploadOut, "Upload a shipment-confirmation flat file; processed as a job")
)
async def post_upload(
    request: Request, response: Response, seller: ActingSeller, uow: UoW
) -> UploadOut:
    register = partial(uploads.register, uow, seller_id=seller)
    row, duplicate = await accept_upload(
        request, response, uow, register, job=_job(request), location=router.prefix
    )
    return _out(row, duplicate=duplicate)


def _job(request: Request) -> Job[UnitOfWork, Any]:
    deps: Dependencies = request.app.state.resources.deps
    return uploads.job(deps.uow, clock=deps.now, chunk=deps.settings.upload_chunk_rows)


@router.get("/{upload_id}", response_model=UploadOut, summary="An upload's progress and results")
async def get_upload(upload_id: uuid.UUID, seller: VisibleSeller, uow: UoW) -> UploadOut:
    return _out(await queries.get_upload(uow, upload_id=upload_id, seller_id=seller))


def _out(row: Any, *, duplicate: bool = False) -> UploadOut:
    done, total = row.rows_processed, row.rows_total
    return UploadOut.of(row, done=done, total=total, duplicate=duplicate, results=row.results)
