"""FastAPI dependencies of fulfillment's API, as ``Annotated`` aliases."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Annotated

from fastapi import Depends, Request

from fulfillment.adapters.pii import BuyerPII
from fulfillment.service_layer.unit_of_work import UnitOfWork
from fulfillment.settings import FulfillmentSettings
from shared import topics
from shared.runtime import Resources


def _resources(request: Request) -> Resources:
    resources: Resources = request.app.state.resources
    return resources


async def _uow(request: Request) -> UnitOfWork:
    resources = _resources(request)
    return UnitOfWork(
        topic=resources.settings.topic(topics.FULFILLMENT), sessions=resources.sessions
    )


async def _settings(request: Request) -> FulfillmentSettings:
    settings = _resources(request).settings
    assert isinstance(settings, FulfillmentSettings)
    return settings


async def _pii(request: Request) -> BuyerPII:
    pii: BuyerPII = _resources(request).extras["pii"]
    return pii


async def _now(request: Request) -> datetime:
    clock: Callable[[], datetime] = _resources(request).extras["clock"]
    return clock()


UoW = Annotated[UnitOfWork, Depends(_uow)]
Settings = Annotated[FulfillmentSettings, Depends(_settings)]
Pii = Annotated[BuyerPII, Depends(_pii)]
Now = Annotated[datetime, Depends(_now)]
