"""``/v1/orders/{id}/refunds``: full or partial refunds by item, never more than was paid."""

from __future__ import annotations

from fastapi import APIRouter

from fulfillment.domain import commands as cmd
from fulfillment.domain.model import RefundRequest
from fulfillment.entrypoints.api.deps import Now, UoW
from fulfillment.entrypoints.api.schemas import RefundIn, RefundOut, refund_out
from fulfillment.service_layer import handlers
from shared import inputs
from shared.api.auth import ActingSeller

router = APIRouter(prefix="/v1/orders/{amazon_order_id}/refunds", tags=["refunds"])


@router.post(
    "",
    status_code=201,
    response_model=RefundOut,
    summary="Refund an order, fully or by item",
    responses={409: {"description": "not refundable in its status, FBA, or more than paid"}},
)
async def issue_refund(
    amazon_order_id: inputs.AmazonOrderId, body: RefundIn, seller: ActingSeller, uow: UoW, now: Now
) -> RefundOut:
    lines = (
        tuple(RefundRequest(i.order_item_id, i.amount, i.quantity) for i in body.items)
        if body.items is not None
        else None
    )
    command = cmd.IssueRefund(
        amazon_order_id=amazon_order_id, seller_id=seller, reason=body.reason, items=lines
    )
    async with uow:
        refund = await handlers.issue_refund(uow, command, now=now)
        await uow.commit()
    return refund_out(refund)
