"""ORDER_CHANGE notifications: deduplicated on NotificationId, each one a getOrder refresh.

The order is fetched from the seller's connection (chosen by the payload's SellerId, and by
marketplace when that partner is connected in several regions) before any transaction opens;
then one transaction records the NotificationId and feeds the order to the same intake as
``POST /v1/orders``. A repeat NotificationId does nothing. Push and pull meet in the intake:
the same order change arriving both ways has the same LastUpdateDate, so it is published once.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ingest.adapters.spapi.http import SpApiRequestError
from ingest.adapters.spapi.notifications import OrderChangeEnvelope
from ingest.adapters.spapi_repository import ConnectionRepository, NotificationRepository
from ingest.domain.connections import SpApiUnavailable, UnknownSellingPartner
from ingest.domain.model import Rejected
from ingest.service_layer import handlers
from ingest.service_layer.connections import Vault
from ingest.service_layer.sync import SOURCE, SpApi
from ingest.service_layer.unit_of_work import UnitOfWork
from shared.pii import PIICipher


@dataclass(frozen=True)
class Taken:
    notification_id: str
    amazon_order_id: str
    result: str  # created | updated | unchanged | stale | rejected | not_found | duplicate
    version: int | None = None


def _connection(rows: list[Any], marketplace_id: str | None) -> Any | None:
    for row in rows:
        if marketplace_id and marketplace_id in row.marketplace_ids:
            return row
    return rows[0] if rows else None


async def take(
    uow_factory: Callable[[], UnitOfWork],
    *,
    envelope: OrderChangeEnvelope,
    raw: dict[str, Any],
    spapi: SpApi,
    vault: Vault,
    pii: PIICipher,
    topic: str,
) -> Taken:
    change = envelope.Payload.OrderChangeNotification
    notification_id = envelope.NotificationMetadata.NotificationId
    order_id = change.AmazonOrderId
    async with uow_factory() as uow:
        if await NotificationRepository(uow.session).seen(notification_id):
            return Taken(notification_id, order_id, "duplicate")
        rows = await ConnectionRepository(uow.session).of_selling_partner(change.SellerId)
        marketplace = change.Summary.MarketplaceId if change.Summary else None
        row = _connection(rows, marketplace)
        if row is None:
            reason = {
                "field": "Payload.OrderChangeNotification.SellerId",
                "message": f"no SP-API connection for SellerId {change.SellerId}",
            }
            await handlers.quarantine(
                uow,
                seller_id=None,
                source=SOURCE,
                rejected=Rejected(reasons=[reason], amazon_order_id=order_id, raw=raw),
                pii=pii,
            )
    if row is None:
        raise UnknownSellingPartner(
            f"No SP-API connection for SellerId {change.SellerId}; "
            "the notification was quarantined."
        )
    try:
        async with spapi.client() as client:
            order = await spapi.reader(client, row, vault).order(order_id)
    except SpApiRequestError as exc:
        raise SpApiUnavailable(f"SP-API refused getOrder for {order_id}: {exc}") from None
    async with uow_factory() as uow:
        first = await NotificationRepository(uow.session).record(
            notification_id=notification_id,
            seller_id=row.seller_id,
            selling_partner_id=change.SellerId,
            amazon_order_id=order_id,
            change_type=change.OrderChangeType,
            event_time=envelope.EventTime,
            result="not_found" if order is None else "taken",
        )
        if not first:
            return Taken(notification_id, order_id, "duplicate")
        if order is None:
            return Taken(notification_id, order_id, "not_found")
        [outcome] = await handlers.accept_many(
            uow, seller_id=row.seller_id, entries=[order], source=SOURCE, pii=pii, topic=topic
        )
    if isinstance(outcome, Rejected):
        return Taken(notification_id, order_id, "rejected")
    return Taken(notification_id, order_id, outcome.result.value, outcome.version)
