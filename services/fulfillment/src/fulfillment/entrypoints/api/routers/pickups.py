"""``/v1/orders/{id}/pickup``: schedule a carrier pickup window (at most one day long)."""

from __future__ import annotations

from fastapi import APIRouter

from fulfillment.domain import commands as cmd
from fulfillment.entrypoints.api.deps import Now, UoW
from fulfillment.entrypoints.api.schemas import PickupIn, PickupOut, pickup_out
from fulfillment.service_layer import handlers
from shared import inputs
from shared.api.auth import ActingSeller

router = APIRouter(prefix="/v1/orders/{amazon_order_id}/pickup", tags=["pickups"])


@router.post("", status_code=201, response_model=PickupOut, summary="Schedule a carrier pickup")
async def schedule_pickup(
    amazon_order_id: inputs.AmazonOrderId, body: PickupIn, seller: ActingSeller, uow: UoW, now: Now
) -> PickupOut:
    command = cmd.SchedulePickup(
        amazon_order_id=amazon_order_id,
        seller_id=seller,
        carrier_code=body.carrier_code,
        window_start=body.window_start,
        window_end=body.window_end,
    )
    async with uow:
        pickup = await handlers.schedule_pickup(uow, command, now=now)
        await uow.commit()
    return pickup_out(pickup)
