"""FastAPI dependencies of the gateway's API, as ``Annotated`` aliases; they read what the
composition root built (``ingest.dependencies``) through ``GatewayDependencies``."""

from __future__ import annotations

from typing import Annotated, Protocol

from fastapi import Depends, Request

from ingest.amazon.service_layer.connections import Vault
from ingest.amazon.service_layer.sync import SpApi
from ingest.amazon.service_layer.unit_of_work import GatewayUnitOfWork
from ingest.settings import IngestSettings
from shared.pii import PIICipher


class GatewayDependencies(Protocol):
    @property
    def settings(self) -> IngestSettings: ...

    @property
    def pii(self) -> PIICipher: ...

    @property
    def spapi(self) -> SpApi: ...

    @property
    def vault(self) -> Vault: ...

    def gateway_uow(self) -> GatewayUnitOfWork: ...


def gateway_deps(request: Request) -> GatewayDependencies:
    deps: GatewayDependencies = request.app.state.resources.deps
    return deps


async def _uow(request: Request) -> GatewayUnitOfWork:
    return gateway_deps(request).gateway_uow()


async def _settings(request: Request) -> IngestSettings:
    return gateway_deps(request).settings


async def _vault(request: Request) -> Vault:
    return gateway_deps(request).vault


UoW = Annotated[GatewayUnitOfWork, Depends(_uow)]
Settings = Annotated[IngestSettings, Depends(_settings)]
VaultDep = Annotated[Vault, Depends(_vault)]
Deps = Annotated[GatewayDependencies, Depends(gateway_deps)]
