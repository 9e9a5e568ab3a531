"""FastAPI dependencies of defects' API, as ``Annotated`` aliases."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated

from fastapi import Depends, Request

from defects.service_layer.unit_of_work import UnitOfWork
from shared.runtime import Resources
from shared.topics import DEFECTS


def _resources(request: Request) -> Resources:
    resources: Resources = request.app.state.resources
    return resources


async def _uow(request: Request) -> UnitOfWork:
    resources = _resources(request)
    return UnitOfWork(resources.sessions, topic=resources.settings.topic(DEFECTS))


async def _now(request: Request) -> datetime:
    clock: Callable[[], datetime] = _resources(request).extras.get(
        "clock", lambda: datetime.now(UTC)
    )
    return clock()


UoW = Annotated[UnitOfWork, Depends(_uow)]
Now = Annotated[datetime, Depends(_now)]
