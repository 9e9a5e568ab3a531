"""``/v1/uploads``: flat-file order reports as jobs with progress and row-level errors."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Request, Response

from ingest.intake.domain import commands
from ingest.intake.entrypoints.api.deps import Cipher, Deps, IntakeDependencies, UoW
from ingest.intake.entrypoints.api.schemas import UploadOut
from ingest.intake.service_layer import handlers, queries, uploads
from ingest.intake.service_layer.unit_of_work import IntakeUnitOfWork
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
    deps: Deps,
) -> UploadOut:
    async def register(*, filename: str | None, content: bytes) -> tuple[Any, bool]:
        command = commands.RegisterUpload(seller_id=seller, filename=filename, content=content)
        return await handlers.register_upload(uow, command=command, pii=pii)

    row, duplicate = await accept_upload(
        request, response, uow, register, job=_job(deps), location=router.prefix
    )
    return _out(row, duplicate=duplicate)


def _job(deps: IntakeDependencies) -> Job[IntakeUnitOfWork, Any]:
    settings = deps.settings
    return uploads.job(
        deps.intake_uow,
        pii=deps.pii,
        topic=settings.topic(topics.ORDERS),
        chunk=settings.upload_chunk_orders,
        clock=utc_now,
    )


@router.get("/{upload_id}", response_model=UploadOut, summary="An upload's progress and errors")
async def get_upload(upload_id: uuid.UUID, seller: VisibleSeller, uow: UoW) -> UploadOut:
    return _out(await queries.upload(uow, upload_id=upload_id, seller_id=seller))


def _out(row: Any, *, duplicate: bool = False) -> UploadOut:
    done, total = row.orders_done, row.orders_total
    orders = {"orders_done": done, "orders_total": total, "errors": row.errors}
    return UploadOut.of(row, done=done, total=total, duplicate=duplicate, **orders)
