"""FastAPI dependencies of analytics' API, as ``Annotated`` aliases."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from analytics.adapters.ingest_client import IngestPort
from analytics.adapters.kafka_lag import LagPort
from analytics.adapters.peers import Peers
from analytics.dependencies import Clock, Dependencies
from analytics.settings import AnalyticsSettings
from shared.api.auth import VisibleSeller
from shared.api.problems import Problem


def _deps(request: Request) -> Dependencies:
    deps: Dependencies = request.app.state.resources.deps
    return deps


async def _sessions(request: Request) -> async_sessionmaker[AsyncSession]:
    return _deps(request).sessions


async def _settings(request: Request) -> AnalyticsSettings:
    return _deps(request).settings


async def _ingest(request: Request) -> IngestPort:
    port: IngestPort = request.app.state.ingest
    return port


async def _lag(request: Request) -> LagPort:
    port: LagPort = request.app.state.lag
    return port


async def _peers(request: Request) -> Peers:
    peers: Peers = request.app.state.peers
    return peers


async def _clock(request: Request) -> Clock:
    return _deps(request).now


async def one_seller(seller: VisibleSeller) -> str:
    """The seller a per-seller read is about; ops and system keys must name it."""
    if seller is None:
        raise Problem(
            400,
            "Seller required",
            "This report is per seller: name it in the X-Seller-Id header.",
            errors=[{"field": "header.X-Seller-Id", "message": "required for ops/system keys"}],
        )
    return seller


Sessions = Annotated[async_sessionmaker[AsyncSession], Depends(_sessions)]
Settings = Annotated[AnalyticsSettings, Depends(_settings)]
Ingest = Annotated[IngestPort, Depends(_ingest)]
Lag = Annotated[LagPort, Depends(_lag)]
PeerServices = Annotated[Peers, Depends(_peers)]
Now = Annotated[Clock, Depends(_clock)]
OneSeller = Annotated[str, Depends(one_seller)]
