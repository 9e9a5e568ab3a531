"""``/v1/orders/{amazon_order_id}/trace``: "why is my order not showing?"."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query

from analytics.entrypoints.api.deps import Ingest, Lag, Now, PeerServices, Sessions, Settings
from analytics.entrypoints.api.schemas import TraceOut
from analytics.service_layer.trace import TracePorts, TraceRequest, trace
from shared import inputs, topics
from shared.api.auth import VisibleSeller
from shared.runtime import group_id

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
    sessions: Sessions,
    settings: Settings,
    ingest: Ingest,
    lag: Lag,
    now: Now,
    peers: PeerServices,
    marketplace_id: Annotated[inputs.MarketplaceId | None, Query()] = None,
) -> dict[str, Any]:
    ask = TraceRequest(amazon_order_id, seller, marketplace_id, now())
    ports = TracePorts(
        ingest=ingest,
        lag=lag,
        group=group_id(settings.service_name, settings),
        orders_topic=settings.topic(topics.ORDERS),
        lag_threshold=settings.consumer_lag_threshold,
        peers=peers,
    )
    return await trace(sessions, ask, ports)
