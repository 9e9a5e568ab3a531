"""``/v1/tracking-events``: carrier scans of the seller's parcels (a carrier's or a tracking
aggregator's webhook), which make on-time delivery and valid tracking measurable."""

from __future__ import annotations

from fastapi import APIRouter, Response

from fulfillment.domain import commands as cmd
from fulfillment.entrypoints.api.deps import Now, UoW
from fulfillment.entrypoints.api.schemas import (
    ScannedShipmentOut,
    TrackingEventIn,
    TrackingEventOut,
)
from fulfillment.service_layer import handlers
from shared.api.auth import ActingSeller

router = APIRouter(prefix="/v1/tracking-events", tags=["tracking events"])


@router.post(
    "",
    status_code=201,
    response_model=TrackingEventOut,
    summary="Record a carrier scan of a parcel, found by carrier and tracking number",
    responses={
        200: {"model": TrackingEventOut, "description": "the same scan was recorded before"},
        404: {"description": "no shipment of the seller has this carrier and tracking number"},
    },
)
async def record_tracking_event(
    body: TrackingEventIn, response: Response, seller: ActingSeller, uow: UoW, now: Now
) -> TrackingEventOut:
    command = cmd.RecordTrackingEvent(
        seller_id=seller,
        carrier_code=body.carrier_code,
        tracking_number=body.tracking_number,
        status=body.status,
        occurred_at=body.occurred_at,
    )
    async with uow:
        found = await handlers.record_tracking_event(uow, command, now=now)
        await uow.commit()
    recorded = any(f.recorded for f in found)
    if not recorded:
        response.status_code = 200
    first = found[0].shipment
    return TrackingEventOut(
        carrier_code=first.carrier_code,
        tracking_number=first.tracking_number,
        status=body.status,
        occurred_at=body.occurred_at,
        recorded=recorded,
        shipments=[
            ScannedShipmentOut(
                amazon_order_id=f.amazon_order_id,
                shipment_id=f.shipment.shipment_id,
                recorded=f.recorded,
                first_scan_at=f.shipment.first_scan_at,
                delivered_at=f.shipment.delivered_at,
                scans=len(f.shipment.scans),
            )
            for f in found
        ],
    )
