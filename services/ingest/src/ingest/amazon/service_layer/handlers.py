"""The gateway's command handlers, and what a consumed fulfillment event does. Each takes the unit
of work first; the caller commits (the API's request, the consumer runner)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ingest.amazon.domain import commands
from ingest.amazon.domain import submissions as ds
from ingest.amazon.domain.confirmations import Status
from ingest.amazon.service_layer import confirmations, connections, notifications, submissions
from ingest.amazon.service_layer.connections import Vault
from ingest.amazon.service_layer.sync import SpApi
from ingest.amazon.service_layer.unit_of_work import GatewayUnitOfWork
from shared.events.fulfillment import OrderCanceled, RefundIssued, Shipment
from shared.pii import PIICipher


async def add_connection(
    uow: GatewayUnitOfWork, *, command: commands.AddConnection, vault: Vault
) -> Any:
    new = connections.NewConnection(
        selling_partner_id=command.selling_partner_id,
        region=command.region,
        marketplace_ids=command.marketplace_ids,
        orders_api=command.orders_api,
        endpoint=command.endpoint,
        lwa_token_url=command.lwa_token_url,
        credentials=command.credentials,
        sync_from=command.sync_from,
    )
    return await connections.add(uow, seller_id=command.seller_id, new=new, vault=vault)


async def change_connection(uow: GatewayUnitOfWork, *, command: commands.ChangeConnection) -> Any:
    return await connections.change(uow, command.connection_id, command.seller_id, command.action)


async def remove_connection(uow: GatewayUnitOfWork, *, command: commands.RemoveConnection) -> None:
    await connections.remove(uow, command.connection_id, command.seller_id)


async def take_notification(
    new_uow: Callable[[], GatewayUnitOfWork],
    *,
    command: commands.TakeNotification,
    spapi: SpApi,
    vault: Vault,
    pii: PIICipher,
    topic: str,
) -> notifications.Taken:
    """Two transactions around a getOrder call (none is held open while Amazon answers): hence
    a factory of units of work rather than one."""
    return await notifications.take(
        new_uow,
        envelope=command.envelope,
        raw=command.raw,
        spapi=spapi,
        vault=vault,
        pii=pii,
        topic=topic,
    )


async def retry_confirmation(uow: GatewayUnitOfWork, *, command: commands.RetryConfirmation) -> Any:
    return await submissions.retry(
        uow, command.confirmation_id, command.seller_id, ds.Kind.SHIPMENT_CONFIRMATION
    )


async def record_shipment(
    uow: GatewayUnitOfWork, *, shipment: Shipment, version: int, event_type: str
) -> Status | None:
    """A shipment confirmed or updated in fulfillment: the confirmation to push to Amazon."""
    return await confirmations.record(uow, shipment, version=version, event_type=event_type)


async def retry_submission(uow: GatewayUnitOfWork, *, command: commands.RetrySubmission) -> Any:
    return await submissions.retry(uow, command.submission_id, command.seller_id, command.kind)


async def record_cancellation(
    uow: GatewayUnitOfWork, *, cancellation: OrderCanceled, version: int, event_type: str
) -> ds.Status | None:
    """An order canceled in fulfillment: the OrderAcknowledgement to send to Amazon."""
    return await submissions.record_cancellation(
        uow, cancellation, version=version, event_type=event_type
    )


async def record_refund(
    uow: GatewayUnitOfWork, *, refund: RefundIssued, version: int, event_type: str
) -> ds.Status | None:
    """A refund issued in fulfillment: the OrderAdjustment to send to Amazon."""
    return await submissions.record_refund(uow, refund, version=version, event_type=event_type)
