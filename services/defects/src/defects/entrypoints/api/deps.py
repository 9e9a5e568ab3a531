"""FastAPI dependencies of defects' API, as ``Annotated`` aliases."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import Depends, Request

from defects.dependencies import Dependencies
from defects.service_layer.unit_of_work import UnitOfWork


def _deps(request: Request) -> Dependencies:
    deps: Dependencies = request.app.state.resources.deps
    return deps


async def _uow(request: Request) -> UnitOfWork:
    return _deps(request).uow()


async def _now(request: Request) -> datetime:
    return _deps(request).now()


UoW = Annotated[UnitOfWork, Depends(_uow)]
Now = Annotated[datetime, Depends(_now)]
