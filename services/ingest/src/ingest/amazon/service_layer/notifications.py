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

from ingest.amazon.adapters.spapi.http import SpApiRequestError
from ingest.amazon.adapters.spapi.notifications import OrderChangeEnvelope as OrderChangeEnvelope
from ingest.amazon.domain.connections import SpApiUnavailable, UnknownSellingPartner
from ingest.amazon.service_layer.connections import Vault
from ingest.amazon.service_layer.sync import SOURCE, SpApi
from ingest.amazon.service_layer.unit_of_work import GatewayUnitOfWork
from ingest.intake.domain.commands import AcceptOrders, QuarantineInput
from ingest.intake.domain.model import Rejected
from ingest.intake.service_layer import handlers
from shared import audit
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
    uow_factory: Callable[[], GatewayUnitOfWork],
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
        if await uow.notifications.seen(notification_id):
            return Taken(notification_id, order_id, "duplicate")
        rows = await uow.connections.of_selling_partner(change.SellerId)
        marketplace = change.Summary.MarketplaceId if change.Summary else None
        row = _connection(rows, marketplace)
        if row is None:
            reason = {
                "field": "Payload.OrderChangeNotification.SellerId",
                "message": f"no SP-API connection for SellerId {change.SellerId}",
            }
            rejected = Rejected(reasons=[reason], amazon_order_id=order_id, raw=raw)
            refused = QuarantineInput(seller_id=None, source=SOURCE, rejected=rejected)
            await handlers.quarantine_input(uow, command=refused, pii=pii)
            audit.note(
                resource_type="order", resource_id=order_id, outcome="quarantined", status_code=404
            )
            await uow.commit()
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
        first = await uow.notifications.record(
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
        audit.note(resource_type="order", resource_id=order_id)
        if order is None:
            await uow.commit()
            return Taken(notification_id, order_id, "not_found")
        command = AcceptOrders(seller_id=row.seller_id, entries=[order], source=SOURCE)
        [outcome] = await handlers.accept_orders(uow, command=command, pii=pii, topic=topic)
        await uow.commit()
    if isinstance(outcome, Rejected):
        return Taken(notification_id, order_id, "rejected")
    return Taken(notification_id, order_id, outcome.result.value, outcome.version)
