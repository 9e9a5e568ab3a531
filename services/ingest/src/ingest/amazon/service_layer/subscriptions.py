"""Subscribe a connection to Amazon's notifications: the SQS destination, then one subscription
per notification type ingest takes, each recorded on the connection.

The destination is the application's (one per queue, shared by every seller): an existing one
for the queue's ARN is reused, else created. Each subscription is the seller's: created, or the
one Amazon says already exists (409, read back with getSubscription). Calling it again thus
changes nothing, at Amazon or in the connection. Amazon is called outside any transaction;
the outcome (destination, each subscription's id and status, the error if one failed) is
written in one transaction afterwards, so what the connection shows is what Amazon answered.

Statuses of a subscription: ``subscribed`` (to this queue's destination), ``elsewhere`` (the
seller was already subscribed to another destination, which gets the notifications instead:
delete that subscription at Amazon first), ``failed`` (Amazon refused; see the error).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ingest.amazon.adapters.spapi.http import SpApiRequestError
from ingest.amazon.adapters.spapi.notifications_api import NotificationsApi
from ingest.amazon.adapters.sqs import FEED_PROCESSING_FINISHED, ORDER_CHANGE
from ingest.amazon.domain.connections import SpApiUnavailable
from ingest.amazon.service_layer import connections
from ingest.amazon.service_layer.connections import Vault
from ingest.amazon.service_layer.sync import SpApi
from ingest.amazon.service_layer.unit_of_work import GatewayUnitOfWork

# The payload version Amazon's documentation names for each notification type.
PAYLOAD_VERSIONS = {ORDER_CHANGE: "1.0", FEED_PROCESSING_FINISHED: "2020-09-04"}
DESTINATION_NAME = "orderflow"


@dataclass(frozen=True)
class Outcome:
    row: Any  # the connection, as stored after this call
    error: str | None


async def subscribe(
    uow_factory: Callable[[], GatewayUnitOfWork],
    *,
    connection_id: uuid.UUID,
    seller_id: str | None,
    queue_arn: str,
    spapi: SpApi,
    vault: Vault,
) -> Outcome:
    async with uow_factory() as uow:
        row = await connections.get(uow, connection_id, seller_id)
    state = _State(row.notification_destination_id, dict(row.notification_subscriptions))
    try:
        async with spapi.client() as client:
            await state.subscribe(NotificationsApi(spapi.http(client, row, vault)), queue_arn)
    except (SpApiRequestError, SpApiUnavailable) as exc:
        state.error = str(exc)[:1000]
    async with uow_factory() as uow:
        if state.values() != _stored(row):
            await uow.connections.update(connection_id, **state.values())
        stored = await uow.connections.get(connection_id, None)
        await uow.commit()
    return Outcome(stored, state.error)


@dataclass
class _State:
    destination_id: str | None
    subscriptions: dict[str, dict[str, str]]
    error: str | None = None

    async def subscribe(self, api: NotificationsApi, queue_arn: str) -> None:
        destination = await api.destination_for(arn=queue_arn, name=DESTINATION_NAME)
        self.destination_id = destination.destination_id
        for kind, version in PAYLOAD_VERSIONS.items():
            try:
                found = await api.subscribe(
                    kind, destination_id=destination.destination_id, payload_version=version
                )
            except SpApiRequestError as exc:
                self.subscriptions[kind] = {"status": "failed"}
                self.error = f"{kind}: {exc}"[:1000]
                continue
            ours = found.destination_id == destination.destination_id
            self.subscriptions[kind] = {
                "subscription_id": found.subscription_id,
                "destination_id": found.destination_id,
                "status": "subscribed" if ours else "elsewhere",
            }
            if not ours:
                self.error = (
                    f"{kind}: the seller is subscribed to destination {found.destination_id}, "
                    "not this queue's; delete that subscription at Amazon and subscribe again"
                )

    def values(self) -> dict[str, Any]:
        return {
            "notification_destination_id": self.destination_id,
            "notification_subscriptions": self.subscriptions,
            "notifications_error": self.error,
        }


def _stored(row: Any) -> dict[str, Any]:
    return {
        "notification_destination_id": row.notification_destination_id,
        "notification_subscriptions": dict(row.notification_subscriptions),
        "notifications_error": row.notifications_error,
    }
