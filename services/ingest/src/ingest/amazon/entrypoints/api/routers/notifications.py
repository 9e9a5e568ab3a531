"""``/v1/notifications/sp-api``: Amazon's ORDER_CHANGE notifications, as the SQS forwarder
(an internal system, so a system key) hands them over: the SQS message body as it is."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter
from pydantic import BaseModel

from ingest.amazon.domain import commands
from ingest.amazon.entrypoints.api.deps import Deps
from ingest.amazon.service_layer import handlers
from ingest.amazon.service_layer.notifications import OrderChangeEnvelope
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
async def take_notification(envelope: OrderChangeEnvelope, deps: Deps) -> NotificationOut:
    raw: dict[str, Any] = envelope.model_dump(mode="json")
    taken = await handlers.take_notification(
        deps.gateway_uow,
        command=commands.TakeNotification(envelope=envelope, raw=raw),
        spapi=deps.spapi,
        vault=deps.vault,
        pii=deps.pii,
        topic=deps.settings.topic(topics.ORDERS),
    )
    return NotificationOut(
        notification_id=taken.notification_id,
        amazon_order_id=taken.amazon_order_id,
        result=taken.result,
        version=taken.version,
    )
