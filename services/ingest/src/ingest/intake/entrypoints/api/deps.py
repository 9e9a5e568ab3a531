"""FastAPI dependencies of intake's API, as ``Annotated`` aliases.

They read what the composition root built (``ingest.dependencies``) through the
``IntakeDependencies`` protocol, so that intake imports nothing of the Amazon gateway.
"""

from __future__ import annotations

from typing import Annotated, Protocol

from fastapi import Depends, Request

from ingest.intake.service_layer.unit_of_work import IntakeUnitOfWork
from ingest.settings import IngestSettings
from shared.pii import PIICipher


class IntakeDependencies(Protocol):
    @property
    def settings(self) -> IngestSettings: ...

    @property
    def pii(self) -> PIICipher: ...

    def intake_uow(self) -> IntakeUnitOfWork: ...


def intake_deps(request: Request) -> IntakeDependencies:
    deps: IntakeDependencies = request.app.state.resources.deps
    return deps


async def _uow(request: Request) -> IntakeUnitOfWork:
    return intake_deps(request).intake_uow()


async def _settings(request: Request) -> IngestSettings:
    return intake_deps(request).settings


async def _pii(request: Request) -> PIICipher:
    return intake_deps(request).pii


UoW = Annotated[IntakeUnitOfWork, Depends(_uow)]
Settings = Annotated[IngestSettings, Depends(_settings)]
Cipher = Annotated[PIICipher, Depends(_pii)]
Deps = Annotated[IntakeDependencies, Depends(intake_deps)]
