"""The gateway's reads, for the API: each in its own unit of work, nothing written."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from ingest.amazon.domain import submissions as ds
from ingest.amazon.service_layer import connections, submissions
from ingest.amazon.service_layer.connections import Vault
from ingest.amazon.service_layer.unit_of_work import GatewayUnitOfWork


async def connection(
    uow: GatewayUnitOfWork, *, connection_id: uuid.UUID, seller_id: str | None
) -> Any:
    async with uow:
        return await connections.get(uow, connection_id, seller_id)


async def connections_page(
    uow: GatewayUnitOfWork,
    *,
    seller_id: str | None,
    after: tuple[datetime, uuid.UUID] | None,
    limit: int,
) -> list[Any]:
    async with uow:
        return await connections.page(uow, seller_id=seller_id, after=after, limit=limit)


def client_id_hint(sealed_credentials: str, vault: Vault) -> str:
    """The last four characters of a connection's LWA client id (the rest never leaves)."""
    return "…" + vault.open(sealed_credentials).client_id[-4:]


async def submission(
    uow: GatewayUnitOfWork,
    *,
    submission_id: uuid.UUID,
    seller_id: str | None,
    kind: ds.Kind | None = None,
) -> Any:
    async with uow:
        return await submissions.get(uow, submission_id, seller_id, kind)


async def submissions_page(
    uow: GatewayUnitOfWork,
    *,
    seller_id: str | None,
    kind: ds.Kind | None,
    status: StrEnum | None,
    amazon_order_id: str | None,
    after: tuple[datetime, uuid.UUID] | None,
    limit: int,
) -> list[Any]:
    async with uow:
        return await submissions.page(
            uow,
            seller_id=seller_id,
            kind=kind,
            status=status,
            amazon_order_id=amazon_order_id,
            after=after,
            limit=limit,
        )
