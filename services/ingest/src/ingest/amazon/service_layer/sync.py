"""The SP-API poller: each active connection's orders, by last-update time, page by page.

One pass (``sync_once``) leases one due connection (``FOR UPDATE SKIP LOCKED`` plus a lease,
so several ingest instances never read the same connection at once), reads the window from
its cursor to two minutes before now, and feeds every page to the same intake as
``POST /v1/orders`` (``handlers.accept_many``, source ``sp-api``, the connection's seller).

Each page is committed in one transaction with the connection's progress (the window being
read and the next page's token); the cursor moves to the window's end in the transaction of the
last page. A crash or restart therefore resumes at the first page not committed: orders are
neither missed nor, thanks to the intake's LastUpdateDate rule, published twice. When a stored
page token no longer works (tokens expire), the window is read again from its start, which
only yields ``unchanged`` orders for the pages already taken.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from ingest.amazon.adapters.spapi.http import (
    Buckets,
    RetryPolicy,
    SpApiHttp,
    SpApiRequestError,
    TokenCache,
)
from ingest.amazon.adapters.spapi.orders import OrdersReader, V0Reader, V2026Reader
from ingest.amazon.domain.connections import (
    OrdersApi,
    Region,
    SpApiUnavailable,
    Window,
    base_url,
    host_allowed,
    next_window,
)
from ingest.amazon.service_layer.connections import Vault
from ingest.amazon.service_layer.unit_of_work import GatewayUnitOfWork
from ingest.intake.domain.commands import AcceptOrders
from ingest.intake.domain.model import IntakeResult
from ingest.intake.service_layer import handlers
from ingest.settings import IngestSettings
from shared import topics
from shared.inputs import scrub
from shared.pii import PIICipher
from shared.runtime import Resources

log = logging.getLogger(__name__)

SOURCE = "sp-api"


@dataclass
class SpApi:
    """What the poller and the notification endpoint share in one process."""

    settings: IngestSettings
    buckets: Buckets
    tokens: TokenCache = field(default_factory=TokenCache)

    @property
    def retry(self) -> RetryPolicy:
        s = self.settings
        return RetryPolicy(
            s.spapi_max_attempts, s.spapi_backoff_seconds, s.spapi_backoff_cap_seconds
        )

    def client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(timeout=self.settings.spapi_timeout_seconds)

    def http(self, client: httpx.AsyncClient, row: Any, vault: Vault) -> SpApiHttp:
        """HTTP to one connection's endpoint (allowed hosts only), with its credentials."""
        url = base_url(Region(row.region), row.endpoint)
        token_url = row.lwa_token_url or self.settings.spapi_lwa_token_url
        for target in (url, token_url):
            if not host_allowed(target, self.settings.spapi_hosts()):
                raise SpApiUnavailable(f"{target} is not an allowed SP-API host")
        return SpApiHttp(
            client=client,
            base_url=url,
            token_url=token_url,
            credentials=vault.open(row.sealed_credentials),
            selling_partner_id=row.selling_partner_id,
            buckets=self.buckets,
            tokens=self.tokens,
            retry=self.retry,
            sleep=self.buckets.sleep,
        )

    def reader(self, client: httpx.AsyncClient, row: Any, vault: Vault) -> OrdersReader:
        http = self.http(client, row, vault)
        marketplaces = tuple(row.marketplace_ids)
        size = self.settings.spapi_page_size
        if row.orders_api == OrdersApi.V0:
            return V0Reader(http, marketplaces, size)
        return V2026Reader(http, marketplaces, size)


def spapi_of(resources: Resources[Any]) -> SpApi:
    spapi: SpApi = resources.deps.spapi
    return spapi


def vault_of(resources: Resources[Any]) -> Vault:
    vault: Vault = resources.deps.vault
    return vault


def uow_factory_of(resources: Resources[Any]) -> Callable[[], GatewayUnitOfWork]:
    """The composition root's factory of gateway units of work (``Dependencies.gateway_uow``)."""
    factory: Callable[[], GatewayUnitOfWork] = resources.deps.gateway_uow
    return factory


@dataclass
class Poller:
    new_uow: Callable[[], GatewayUnitOfWork]
    spapi: SpApi
    vault: Vault
    pii: PIICipher
    topic: str
    owner: str = field(
        default_factory=lambda: f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
    )
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)

    @property
    def lease(self) -> timedelta:
        return timedelta(seconds=self.spapi.settings.spapi_lease_seconds)

    async def sync_once(self) -> bool:
        """Sync one due connection; False when none was due."""
        async with self.new_uow() as uow:
            row = await uow.connections.claim_due(self.owner, self.lease)
            await uow.commit()
        if row is None:
            return False
        error: str | None = None
        try:
            await self._sync(row)
        except (SpApiUnavailable, SpApiRequestError) as exc:
            error = str(exc)[:500]
            log.warning("sp-api sync failed", extra={"connection": str(row.id), "error": error})
        except Exception as exc:  # recorded on the connection; the next pass tries again
            error = f"{type(exc).__name__}: {exc}"[:500]
            log.exception("sp-api sync failed", extra={"connection": str(row.id)})
        finally:
            poll = timedelta(seconds=self.spapi.settings.spapi_poll_seconds)
            async with self.new_uow() as uow:
                await uow.connections.release(
                    row.id,
                    self.owner,
                    next_sync_at=self.clock() + poll,
                    last_error=scrub(error, 500) if error else None,
                )
                await uow.commit()
        return True

    async def _sync(self, row: Any) -> None:
        window = (
            Window(row.last_updated_after, row.window_before)
            if row.window_before
            else next_window(row.last_updated_after, self.clock())
        )
        if window is None:
            return
        token: str | None = row.page_token
        async with self.spapi.client() as client:
            reader = self.spapi.reader(client, row, self.vault)
            while True:
                try:
                    page = await reader.updated(window, token)
                except SpApiRequestError:
                    if token is None:
                        raise
                    token = None  # an expired page token: read the window again from its start
                    continue
                if not await self._commit_page(row, window, page.orders, page.next_token):
                    return  # the lease was lost: another instance has this connection now
                token = page.next_token
                if token is None:
                    return

    async def _commit_page(
        self, row: Any, window: Window, orders: list[Any], next_token: str | None
    ) -> bool:
        async with self.new_uow() as uow:
            repo = uow.connections
            if await repo.lock_lease(row.id, self.owner) is None:
                return False
            command = AcceptOrders(seller_id=row.seller_id, entries=orders, source=SOURCE)
            outcomes = await handlers.accept_orders(
                uow, command=command, pii=self.pii, topic=self.topic
            )
            changed = sum(
                1
                for o in outcomes
                if isinstance(o, handlers.Accepted)
                and o.result in (IntakeResult.CREATED, IntakeResult.UPDATED)
            )
            progress: dict[str, Any] = (
                {"window_before": window.before, "page_token": next_token}
                if next_token
                else {
                    "last_updated_after": window.before,
                    "window_before": None,
                    "page_token": None,
                    "last_sync_at": self.clock(),
                }
            )
            await repo.advance(row.id, changed, **progress)
            await repo.renew_lease(row.id, self.owner, self.lease)
            await uow.commit()
        return True


def poller_of(resources: Resources[Any]) -> Poller:
    return Poller(
        new_uow=uow_factory_of(resources),
        spapi=spapi_of(resources),
        vault=vault_of(resources),
        pii=PIICipher(resources.settings.pii_key),
        topic=resources.settings.topic(topics.ORDERS),
    )


async def run_poller(resources: Resources[Any]) -> None:
    """Background job: sync due connections one after another, forever (when enabled)."""
    if not spapi_of(resources).settings.spapi_poller_enabled:
        log.info("sp-api poller disabled (SPAPI_POLLER_ENABLED=false)")
        return
    poller = poller_of(resources)
    idle = spapi_of(resources).settings.spapi_idle_seconds
    while True:
        try:
            busy = await poller.sync_once()
        except Exception:  # a database hiccup must not end the job: log it and go on
            log.exception("sp-api poller pass failed")
            busy = False
        if not busy:
            await asyncio.sleep(idle)
