"""FastAPI dependencies of ingest's API, as ``Annotated`` aliases."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from ingest.service_layer.unit_of_work import UnitOfWork
from ingest.settings import IngestSettings
from shared.pii import PIICipher
from shared.runtime import Resources


def _resources(request: Request) -> Resources:
    resources: Resources = request.app.state.resources
    return resources


async def _uow(request: Request) -> UnitOfWork:
    return UnitOfWork(_resources(request).sessions)


async def _settings(request: Request) -> IngestSettings:
    settings = _resources(request).settings
    assert isinstance(settings, IngestSettings)
    return settings


async def _pii(request: Request) -> PIICipher:
    cipher: PIICipher = _resources(request).extras["pii"]
    return cipher


UoW = Annotated[UnitOfWork, Depends(_uow)]
Settings = Annotated[IngestSettings, Depends(_settings)]
Cipher = Annotated[PIICipher, Depends(_pii)]
