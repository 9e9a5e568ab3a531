"""``/v1/orders/{id}/shipments``: confirm a (partial) shipment; edit carrier or tracking."""

from __future__ import annotations

from fastapi import APIRouter, Response

from fulfillment.domain import commands as cmd
from fulfillment.domain.model import ItemQuantity
from fulfillment.entrypoints.api.deps import Now, UoW
from fulfillment.entrypoints.api.schemas import ShipmentIn, ShipmentOut, ShipmentPatch, shipment_out
from fulfillment.service_layer import handlers
from shared import audit, inputs
from shared.api.auth import ActingSeller
from shared.api.problems import Problem

router = APIRouter(prefix="/v1/orders/{amazon_order_id}/shipments", tags=["shipments"])


@router.post(
    "",
    status_code=201,
    response_model=ShipmentOut,
    summary="Confirm a shipment (FBM: Unshipped or PartiallyShipped)",
    responses={
        200: {"model": ShipmentOut, "description": "the same shipment was confirmed before"},
        409: {"description": "not shippable in its status, FBA, or more than ordered"},
    },
)
async def confirm_shipment(
    amazon_order_id: inputs.AmazonOrderId,
    body: ShipmentIn,
    response: Response,
    seller: ActingSeller,
    uow: UoW,
    now: Now,
) -> ShipmentOut:
    items = (
        tuple(ItemQuantity(i.order_item_id, i.quantity) for i in body.items)
        if body.items is not None
        else None
    )
    command = cmd.ConfirmShipment(
        amazon_order_id=amazon_order_id,
        seller_id=seller,
        carrier_code=body.carrier_code,
        carrier_name=body.carrier_name,
        ship_method=body.ship_method,
        tracking_number=body.tracking_number,
        ship_date=body.ship_date,
        items=items,
        is_buy_shipping=body.is_buy_shipping,
    )
    async with uow:
        shipment, created = await handlers.confirm_shipment(uow, command, now=now)
        audit.note(status_code=201 if created else 200)
        await uow.commit()
    if not created:
        response.status_code = 200
    response.headers["Location"] = f"/v1/orders/{amazon_order_id}/shipments/{shipment.shipment_id}"
    return shipment_out(shipment)


@router.patch(
    "/{shipment_id}",
    response_model=ShipmentOut,
    summary="Edit a confirmed shipment's carrier or tracking number",
)
async def edit_shipment(
    amazon_order_id: inputs.AmazonOrderId,
    shipment_id: inputs.Identifier,
    body: ShipmentPatch,
    seller: ActingSeller,
    uow: UoW,
    now: Now,
) -> ShipmentOut:
    if not body.model_fields_set:
        raise Problem(
            422,
            "Invalid request",
            "Send at least one field to change.",
            errors=[{"field": "body", "message": "no field to change"}],
        )
    command = cmd.EditShipment(
        amazon_order_id=amazon_order_id,
        seller_id=seller,
        shipment_id=shipment_id,
        carrier_code=body.carrier_code,
        carrier_name=body.carrier_name,
        ship_method=body.ship_method,
        tracking_number=body.tracking_number,
    )
    async with uow:
        shipment = await handlers.edit_shipment(uow, command, now=now)
        await uow.commit()
    return shipment_out(shipment)
