"""Seller connections: add, list, pause, resume, remove; credentials sealed at rest.

LWA credentials (client id, client secret, refresh token) are sealed with ``PIICipher`` under
``SPAPI_CREDENTIALS_KEY`` (else the PII key) before they are stored, and opened only in memory
when the poller or a notification needs an access token. No response or log carries them.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson

from ingest.amazon.domain.connections import (
    Action,
    Connection,
    ConnectionExists,
    ConnectionNotFound,
    Credentials,
    OrdersApi,
    Region,
    Status,
    transition,
)
from ingest.amazon.service_layer.unit_of_work import GatewayUnitOfWork as UnitOfWork
from shared.events.common import EncryptedPII
from shared.pii import PIICipher


class Vault:
    """Seals and opens LWA credentials."""

    def __init__(self, cipher: PIICipher) -> None:
        self._cipher = cipher

    def seal(self, creds: Credentials) -> str:
        sealed = self._cipher.seal(
            {
                "client_id": creds.client_id,
                "client_secret": creds.client_secret,
                "refresh_token": creds.refresh_token,
            }
        )
        return orjson.dumps(sealed.model_dump()).decode()

    def open(self, sealed: str) -> Credentials:
        opened = self._cipher.open(EncryptedPII(**orjson.loads(sealed)))
        return Credentials(
            client_id=opened["client_id"],
            client_secret=opened["client_secret"],
            refresh_token=opened["refresh_token"],
        )


@dataclass(frozen=True)
class NewConnection:
    selling_partner_id: str
    region: Region
    marketplace_ids: tuple[str, ...]
    orders_api: OrdersApi
    endpoint: str
    lwa_token_url: str | None
    credentials: Credentials
    sync_from: datetime


def to_domain(row: Any) -> Connection:
    return Connection(
        id=str(row.id),
        seller_id=row.seller_id,
        selling_partner_id=row.selling_partner_id,
        region=Region(row.region),
        marketplace_ids=tuple(row.marketplace_ids),
        orders_api=OrdersApi(row.orders_api),
        endpoint=row.endpoint,
        lwa_token_url=row.lwa_token_url,
        status=Status(row.status),
    )


async def add(uow: UnitOfWork, *, seller_id: str, new: NewConnection, vault: Vault) -> Any:
    repo = uow.connections
    connection_id = uuid.uuid4()
    created = await repo.add(
        id=connection_id,
        seller_id=seller_id,
        selling_partner_id=new.selling_partner_id,
        region=new.region.value,
        marketplace_ids=list(new.marketplace_ids),
        orders_api=new.orders_api.value,
        endpoint=new.endpoint,
        lwa_token_url=new.lwa_token_url,
        sealed_credentials=vault.seal(new.credentials),
        status=Status.ACTIVE.value,
        last_updated_after=new.sync_from,
    )
    if not created:
        raise ConnectionExists(
            f"Selling partner {new.selling_partner_id} is already connected in region "
            f"{new.region.value}."
        )
    return await repo.get(connection_id, None)


async def get(uow: UnitOfWork, connection_id: uuid.UUID, seller_id: str | None) -> Any:
    row = await uow.connections.get(connection_id, seller_id)
    if row is None:
        raise ConnectionNotFound(f"No connection {connection_id} for this seller.")
    return row


async def page(
    uow: UnitOfWork,
    *,
    seller_id: str | None,
    after: tuple[datetime, uuid.UUID] | None,
    limit: int,
) -> list[Any]:
    return await uow.connections.page(seller_id=seller_id, after=after, limit=limit)


async def change(uow: UnitOfWork, connection_id: uuid.UUID, seller_id: str, action: Action) -> Any:
    row = await get(uow, connection_id, seller_id)
    target = transition(Status(row.status), action)
    repo = uow.connections
    values: dict[str, Any] = {"status": target.value}
    if target is Status.ACTIVE:
        values["next_sync_at"] = datetime.now(row.created_at.tzinfo)
    await repo.update(connection_id, **values)
    return await repo.get(connection_id, None)


async def remove(uow: UnitOfWork, connection_id: uuid.UUID, seller_id: str) -> None:
    await get(uow, connection_id, seller_id)
    await uow.connections.delete(connection_id)
