"""FastAPI dependencies of fulfillment's API, as ``Annotated`` aliases."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import Depends, Request

from fulfillment.adapters.pii import BuyerPII
from fulfillment.dependencies import Dependencies
from fulfillment.service_layer.unit_of_work import UnitOfWork
from fulfillment.settings import FulfillmentSettings


def _deps(request: Request) -> Dependencies:
    deps: Dependencies = request.app.state.resources.deps
    return deps


async def _uow(request: Request) -> UnitOfWork:
    return _deps(request).uow()


async def _settings(request: Request) -> FulfillmentSettings:
    return _deps(request).settings


async def _pii(request: Request) -> BuyerPII:
    return _deps(request).pii


async def _now(request: Request) -> datetime:
    return _deps(request).now()


UoW = Annotated[UnitOfWork, Depends(_uow)]
Settings = Annotated[FulfillmentSettings, Depends(_settings)]
Pii = Annotated[BuyerPII, Depends(_pii)]
Now = Annotated[datetime, Depends(_now)]
