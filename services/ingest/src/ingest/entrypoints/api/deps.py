"""FastAPI dependencies of ingest's API, as ``Annotated`` aliases."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from ingest.dependencies import Dependencies
from ingest.service_layer.unit_of_work import UnitOfWork
from ingest.settings import IngestSettings
from shared.pii import PIICipher


def _deps(request: Request) -> Dependencies:
    deps: Dependencies = request.app.state.resources.deps
    return deps


async def _uow(request: Request) -> UnitOfWork:
    return _deps(request).uow()


async def _settings(request: Request) -> IngestSettings:
    return _deps(request).settings


async def _pii(request: Request) -> PIICipher:
    return _deps(request).pii


UoW = Annotated[UnitOfWork, Depends(_uow)]
Settings = Annotated[IngestSettings, Depends(_settings)]
Cipher = Annotated[PIICipher, Depends(_pii)]
