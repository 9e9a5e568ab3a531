"""``/v1/orders/{amazon_order_id}/trace``: "why is my order not showing?"."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query

from analytics.entrypoints.api.deps import Deps, Uow
from analytics.entrypoints.api.schemas import TraceOut
from analytics.service_layer.trace import TraceRequest, trace
from shared import inputs
from shared.api.auth import VisibleSeller

router = APIRouter(prefix="/v1/orders", tags=["trace"])


@router.get(
    "/{amazon_order_id}/trace",
    response_model=TraceOut,
    summary="An order's timeline and a diagnosis",
    responses={
        404: {
            "description": "for a seller key, or an ops or system key naming X-Seller-Id: nothing "
            "of this order is under this seller (the same answer, byte for byte, for another "
            "seller's order and for an id nobody has)"
        }
    },
)
async def get_trace(
    amazon_order_id: Annotated[inputs.OrderIdLookup, Path()],
    seller: VisibleSeller,
    deps: Deps,
    uow: Uow,
    marketplace_id: Annotated[inputs.MarketplaceId | None, Query()] = None,
) -> dict[str, Any]:
    ask = TraceRequest(amazon_order_id, seller, marketplace_id, deps.now())
    return await trace(uow, ask, deps.trace_ports())
