"""``/v1/notifications/sp-api``: Amazon's ORDER_CHANGE notifications, as the SQS forwarder
(an internal system, so a system key) hands them over: the SQS message body as it is."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Request
from pydantic import BaseModel

from ingest.adapters.spapi.notifications import OrderChangeEnvelope
from ingest.entrypoints.api.deps import Cipher, Settings
from ingest.service_layer import notifications
from ingest.service_layer.sync import spapi_of, vault_of
from ingest.service_layer.unit_of_work import UnitOfWork
from shared import topics
from shared.api.auth import require_roles

router = APIRouter(prefix="/v1/notifications", tags=["notifications"])


class NotificationOut(BaseModel):
    notification_id: str
    amazon_order_id: str
    result: Literal[
        "created", "updated", "unchanged", "stale", "rejected", "not_found", "duplicate"
    ]
    version: int | None = None


@router.post(
    "/sp-api",
    response_model=NotificationOut,
    summary="Take an ORDER_CHANGE notification: refresh the order with getOrder",
    dependencies=[require_roles("system")],
    responses={
        404: {"description": "no connection for the payload's SellerId (quarantined)"},
        503: {"description": "SP-API did not answer; the forwarder should retry"},
    },
)
async def take_notification(
    envelope: OrderChangeEnvelope, request: Request, pii: Cipher, settings: Settings
) -> NotificationOut:
    resources = request.app.state.resources
    raw: dict[str, Any] = envelope.model_dump(mode="json")
    taken = await notifications.take(
        lambda: UnitOfWork(resources.sessions),
        envelope=envelope,
        raw=raw,
        spapi=spapi_of(resources),
        vault=vault_of(resources),
        pii=pii,
        topic=settings.topic(topics.ORDERS),
    )
    return NotificationOut(
        notification_id=taken.notification_id,
        amazon_order_id=taken.amazon_order_id,
        result=taken.result,
        version=taken.version,
    )
