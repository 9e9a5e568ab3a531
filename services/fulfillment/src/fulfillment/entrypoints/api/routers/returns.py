"""``/v1/orders/{id}/returns``: authorise a return (RMA), mark it received (optionally refund)."""

from __future__ import annotations

from fastapi import APIRouter

from fulfillment.domain import commands as cmd
from fulfillment.domain.model import ItemQuantity
from fulfillment.entrypoints.api.deps import Now, UoW
from fulfillment.entrypoints.api.schemas import ReceiptIn, ReturnIn, ReturnOut, return_out
from fulfillment.service_layer import handlers
from shared import inputs
from shared.api.auth import ActingSeller

router = APIRouter(prefix="/v1/orders/{amazon_order_id}/returns", tags=["returns"])


@router.post("", status_code=201, response_model=ReturnOut, summary="Authorise a return")
async def authorize_return(
    amazon_order_id: inputs.AmazonOrderId, body: ReturnIn, seller: ActingSeller, uow: UoW, now: Now
) -> ReturnOut:
    command = cmd.AuthorizeReturn(
        amazon_order_id=amazon_order_id,
        seller_id=seller,
        rma_id=body.rma_id,
        reason=body.reason,
        items=tuple(ItemQuantity(i.order_item_id, i.quantity) for i in body.items),
    )
    async with uow:
        ret = await handlers.authorize_return(uow, command, now=now)
        await uow.commit()
    return return_out(ret)


@router.post(
    "/{return_id}/receipt",
    response_model=ReturnOut,
    summary="Mark a return received (optionally refunding the returned units)",
)
async def receive_return(
    amazon_order_id: inputs.AmazonOrderId,
    return_id: inputs.Identifier,
    seller: ActingSeller,
    uow: UoW,
    now: Now,
    body: ReceiptIn | None = None,
) -> ReturnOut:
    body = body or ReceiptIn()
    command = cmd.ReceiveReturn(
        amazon_order_id=amazon_order_id,
        seller_id=seller,
        return_id=return_id,
        refund=body.refund,
        refund_reason=body.refund_reason,
    )
    async with uow:
        ret, refund = await handlers.receive_return(uow, command, now=now)
        await uow.commit()
    return return_out(ret, refund)
