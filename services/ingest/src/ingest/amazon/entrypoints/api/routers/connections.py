"""``/v1/connections``: a seller's SP-API connections (add, list, pause, resume, remove,
subscribe to Amazon's notifications).

Seller-scoped like the rest: a seller key manages its own seller's connections, a system key
names the seller in ``X-Seller-Id``, ops keys list. Credentials go in and never come out.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Response
from pydantic import (
    AnyHttpUrl,
    AwareDatetime,
    BaseModel,
    Field,
    TypeAdapter,
    ValidationError,
    field_validator,
)

from ingest.amazon.domain import commands
from ingest.amazon.domain.connections import (
    PRODUCTION,
    SANDBOX,
    Action,
    Credentials,
    Health,
    OrdersApi,
    Region,
    Status,
    host_allowed,
    sync_health,
)
from ingest.amazon.entrypoints.api.deps import Deps, Settings, UoW, VaultDep
from ingest.amazon.service_layer import handlers, queries, subscriptions
from ingest.amazon.service_layer.connections import Vault
from ingest.settings import IngestSettings
from shared import audit, inputs
from shared.api.auth import ActingSeller, VisibleSeller
from shared.api.pagination import Cursor, Limit, Page, Position, encode_cursor, read_cursor
from shared.api.problems import Problem

router = APIRouter(prefix="/v1/connections", tags=["connections"])


Url = Annotated[str, inputs.Line(2048, min_length=1)]


class CredentialsIn(BaseModel):
    client_id: Annotated[str, inputs.Line(256, min_length=1)]
    client_secret: Annotated[str, inputs.Line(512, min_length=1)] = Field(repr=False)
    refresh_token: Annotated[str, inputs.Line(2048, min_length=1)] = Field(repr=False)


class ConnectionIn(BaseModel):
    selling_partner_id: inputs.SellerId = Field(description="Amazon seller id")
    region: Region
    marketplace_ids: list[inputs.MarketplaceId] = Field(min_length=1, max_length=50)
    orders_api: OrdersApi = OrdersApi.V2026
    endpoint: Url = Field(
        default=PRODUCTION,
        description='"production", "sandbox", or a base URL (e.g. a local SP-API stand-in)',
    )
    lwa_token_url: Url | None = Field(
        default=None, description="LWA token URL; default https://api.amazon.com/auth/o2/token"
    )
    credentials: CredentialsIn
    sync_from: inputs.Moment | None = Field(
        default=None, description="read orders updated since then; default 24 hours ago"
    )

    @field_validator("endpoint")
    @classmethod
    def _endpoint(cls, value: str) -> str:
        if value in (PRODUCTION, SANDBOX):
            return value
        try:
            url = TypeAdapter(AnyHttpUrl).validate_python(value)
        except ValidationError:
            raise ValueError(
                'endpoint must be "production", "sandbox" or an http(s) base URL'
            ) from None
        return str(url).rstrip("/")

    @field_validator("lwa_token_url")
    @classmethod
    def _lwa_token_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            return str(TypeAdapter(AnyHttpUrl).validate_python(value))
        except ValidationError:
            raise ValueError("lwa_token_url must be an http(s) URL") from None


class SubscriptionOut(BaseModel):
    status: Literal["subscribed", "elsewhere", "failed"] = Field(
        description="elsewhere: the seller's subscription delivers to another destination"
    )
    subscription_id: str | None = None
    destination_id: str | None = None


class NotificationsOut(BaseModel):
    destination_id: str | None = Field(description="the SQS destination at Amazon")
    subscriptions: dict[str, SubscriptionOut] = Field(
        description="by notification type (ORDER_CHANGE, FEED_PROCESSING_FINISHED)"
    )
    last_error: str | None = Field(description="what Amazon answered when subscribing failed")


class ConnectionOut(BaseModel):
    id: str
    seller_id: str
    selling_partner_id: str
    region: Region
    marketplace_ids: list[str]
    orders_api: OrdersApi
    endpoint: str
    lwa_token_url: str | None
    status: Literal["active", "paused"]
    client_id_hint: str = Field(description="last 4 characters of the LWA client id")
    last_updated_after: datetime = Field(description="the sync cursor")
    window_before: datetime | None
    last_sync_at: datetime | None
    last_error: str | None
    health: Health = Field(
        description="ok; paused; auth_failing (LWA refused the refresh token: re-authorise the "
        "app in Seller Central); throttled; failing (see last_error); never_synced; behind"
    )
    behind_seconds: int = Field(
        description="how long ago the sync cursor is: orders updated since are not read yet"
    )
    orders_synced: int
    notifications: NotificationsOut = Field(
        description="Amazon's notifications to the SQS queue (POST .../subscriptions)"
    )
    created_at: datetime


def _out(row: Any, vault: Vault, settings: IngestSettings) -> ConnectionOut:
    health = sync_health(
        status=Status(row.status),
        last_error=row.last_error,
        last_sync_at=row.last_sync_at,
        cursor=row.last_updated_after,
        now=datetime.now(UTC),
        poll=timedelta(seconds=settings.spapi_poll_seconds),
    )
    return ConnectionOut(
        id=str(row.id),
        seller_id=row.seller_id,
        selling_partner_id=row.selling_partner_id,
        region=row.region,
        marketplace_ids=list(row.marketplace_ids),
        orders_api=row.orders_api,
        endpoint=row.endpoint,
        lwa_token_url=row.lwa_token_url,
        status=row.status,
        client_id_hint=queries.client_id_hint(row.sealed_credentials, vault),
        last_updated_after=row.last_updated_after,
        window_before=row.window_before,
        last_sync_at=row.last_sync_at,
        last_error=row.last_error,
        health=health.health,
        behind_seconds=health.behind_seconds,
        orders_synced=row.orders_synced,
        notifications=NotificationsOut(
            destination_id=row.notification_destination_id,
            subscriptions=row.notification_subscriptions,
            last_error=row.notifications_error,
        ),
        created_at=row.created_at,
    )


def _check_hosts(body: ConnectionIn, allowed: frozenset[str]) -> None:
    urls = {"endpoint": body.endpoint, "lwa_token_url": body.lwa_token_url}
    refused = [
        {"field": f"body.{name}", "message": f"host not allowed: {url} (see SPAPI_ALLOWED_HOSTS)"}
        for name, url in urls.items()
        if url and str(url).startswith("http") and not host_allowed(str(url), allowed)
    ]
    if refused:
        detail = "; ".join(r["message"] for r in refused)
        raise Problem(422, "Endpoint not allowed", detail, errors=refused)


@router.post("", status_code=201, response_model=ConnectionOut, summary="Connect a seller")
async def add_connection(
    body: ConnectionIn, seller: ActingSeller, uow: UoW, settings: Settings, vault: VaultDep
) -> ConnectionOut:
    _check_hosts(body, settings.spapi_hosts())
    command = commands.AddConnection(
        seller_id=seller,
        selling_partner_id=body.selling_partner_id,
        region=body.region,
        marketplace_ids=tuple(body.marketplace_ids),
        orders_api=body.orders_api,
        endpoint=body.endpoint,
        lwa_token_url=str(body.lwa_token_url) if body.lwa_token_url else None,
        credentials=Credentials(**body.credentials.model_dump()),
        sync_from=body.sync_from or datetime.now(UTC) - timedelta(days=1),
    )
    async with uow:
        row = await handlers.add_connection(uow, command=command, vault=vault)
        audit.note(resource_type="connection", resource_id=str(row.id))
        await uow.commit()
    return _out(row, vault, settings)


class After(Position):
    """The last connection of a page: its creation time and id."""

    at: AwareDatetime
    id: uuid.UUID


@router.get("", response_model=Page[ConnectionOut], summary="Connections, oldest first")
async def list_connections(
    seller: VisibleSeller,
    uow: UoW,
    vault: VaultDep,
    settings: Settings,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> Page[ConnectionOut]:
    position = read_cursor(cursor, After)
    after = (position.at, position.id) if position else None
    rows = await queries.connections_page(uow, seller_id=seller, after=after, limit=limit + 1)
    items = [_out(r, vault, settings) for r in rows[:limit]]
    last = rows[limit - 1] if len(rows) > limit else None
    next_cursor = encode_cursor(After(at=last.created_at, id=last.id)) if last else None
    return Page(items=items, next_cursor=next_cursor)


@router.get("/{connection_id}", response_model=ConnectionOut, summary="One connection")
async def get_connection(
    connection_id: uuid.UUID, seller: VisibleSeller, uow: UoW, vault: VaultDep, settings: Settings
) -> ConnectionOut:
    row = await queries.connection(uow, connection_id=connection_id, seller_id=seller)
    return _out(row, vault, settings)


@router.post("/{connection_id}/pause", response_model=ConnectionOut, summary="Stop polling")
async def pause(
    connection_id: uuid.UUID, seller: ActingSeller, uow: UoW, vault: VaultDep, settings: Settings
) -> ConnectionOut:
    command = commands.ChangeConnection(connection_id, seller, Action.PAUSE)
    return _out(await _change(uow, command), vault, settings)


@router.post("/{connection_id}/resume", response_model=ConnectionOut, summary="Poll again")
async def resume(
    connection_id: uuid.UUID, seller: ActingSeller, uow: UoW, vault: VaultDep, settings: Settings
) -> ConnectionOut:
    command = commands.ChangeConnection(connection_id, seller, Action.RESUME)
    return _out(await _change(uow, command), vault, settings)


async def _change(uow: UoW, command: commands.ChangeConnection) -> Any:
    async with uow:
        row = await handlers.change_connection(uow, command=command)
        await uow.commit()
    return row


@router.delete("/{connection_id}", status_code=204, summary="Remove a connection")
async def remove(connection_id: uuid.UUID, seller: ActingSeller, uow: UoW) -> Response:
    command = commands.RemoveConnection(connection_id=connection_id, seller_id=seller)
    async with uow:
        await handlers.remove_connection(uow, command=command)
        await uow.commit()
    return Response(status_code=204)


@router.post(
    "/{connection_id}/subscriptions",
    response_model=ConnectionOut,
    summary="Subscribe to Amazon's notifications",
    responses={
        409: {"description": "no SQS queue is configured (SQS_QUEUE_URL)"},
        502: {"description": "Amazon refused; the connection shows which and why"},
    },
)
async def subscribe(
    connection_id: uuid.UUID, seller: ActingSeller, uow: UoW, deps: Deps
) -> ConnectionOut:
    """Amazon's ORDER_CHANGE and FEED_PROCESSING_FINISHED notifications for this connection's
    seller, delivered to the SQS queue the ``notifications`` role reads: the queue's
    destination (created once), then a subscription per type. Calling it again changes
    nothing."""
    await queries.connection(uow, connection_id=connection_id, seller_id=seller)  # 404 first
    arn = deps.settings.queue_arn()
    if not arn:
        detail = "Set SQS_QUEUE_URL (and SQS_QUEUE_ARN if it differs from the URL's queue)."
        raise Problem(409, "Notifications not configured", detail)
    outcome = await subscriptions.subscribe(
        deps.gateway_uow,
        connection_id=connection_id,
        seller_id=seller,
        queue_arn=arn,
        spapi=deps.spapi,
        vault=deps.vault,
    )
    if outcome.error is not None:
        raise Problem(502, "Amazon refused the subscription", outcome.error)
    return _out(outcome.row, deps.vault, deps.settings)
