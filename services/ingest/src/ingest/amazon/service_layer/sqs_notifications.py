"""Amazon's notifications from SQS: receive, do the work, delete only after it committed.

- ORDER_CHANGE: the same refresh as ``POST /v1/notifications/sp-api``
  (:func:`ingest.amazon.service_layer.notifications.take`): deduplicated on NotificationId in the
  notifications table, so a message delivered twice (SQS delivers at least once; a consumer
  killed before its delete gets it again after the visibility timeout) changes nothing the
  second time. A SellerId without a connection is quarantined by ``take`` and deleted.
- FEED_PROCESSING_FINISHED: handed to ``on_feed_finished`` (fetch that feed's report now
  rather than at the next poll); without one it is only logged, since the poll reads it anyway.
- Malformed (not JSON, a type ingest does not take, a missing field): stored in quarantine
  (source ``sqs``, the body sealed like every quarantined input) and deleted once stored.

When SP-API or the database fails, the message is left on the queue: it comes back after
the visibility timeout (and, past the queue's redrive policy, goes to its dead-letter queue).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Literal, Protocol, cast

from ingest.amazon.adapters.sqs import (
    FeedFinished,
    Malformed,
    NotificationQueue,
    OrderChange,
    SqsMessage,
    parse,
)
from ingest.amazon.domain.connections import UnknownSellingPartner
from ingest.amazon.service_layer import notifications
from ingest.amazon.service_layer.connections import Vault
from ingest.amazon.service_layer.sync import SpApi, spapi_of, uow_factory_of, vault_of
from ingest.amazon.service_layer.unit_of_work import GatewayUnitOfWork
from ingest.intake.domain.commands import QuarantineInput
from ingest.intake.domain.model import Rejected
from ingest.intake.service_layer import handlers
from ingest.settings import IngestSettings
from shared import topics
from shared.pii import PIICipher
from shared.runtime import Resources

log = logging.getLogger(__name__)

SOURCE = "sqs"

Result = Literal[
    "created",
    "updated",
    "unchanged",
    "stale",
    "rejected",
    "not_found",
    "duplicate",
    "unknown_seller",
    "feed_finished",
    "malformed",
    "kept",
]


class Queue(Protocol):
    async def receive(self) -> list[SqsMessage]: ...

    async def delete(self, message: SqsMessage) -> None: ...


@dataclass(frozen=True)
class Handled:
    message_id: str
    result: Result
    deleted: bool
    notification_id: str | None = None


@dataclass
class NotificationsConsumer:
    queue: Queue
    uow_factory: Callable[[], GatewayUnitOfWork]
    spapi: SpApi
    vault: Vault
    pii: PIICipher
    topic: str
    on_feed_finished: Callable[[FeedFinished], Awaitable[None]] | None = None

    async def run(self, stop: asyncio.Event | None = None) -> None:
        """Long-poll until ``stop`` is set (or cancelled); a failed receive is logged and
        retried."""
        while stop is None or not stop.is_set():
            try:
                await self.run_once()
            except Exception:
                log.exception("receiving Amazon's notifications from SQS failed; retrying")
                await asyncio.sleep(5.0)

    async def run_once(self) -> list[Handled]:
        """One long poll: each received message handled, then deleted if its work is done."""
        return [await self.handle(message) for message in await self.queue.receive()]

    async def handle(self, message: SqsMessage) -> Handled:
        try:
            result, notification_id = await self._work(message)
        except Exception:
            log.exception(
                "notification %s not processed (receive %d); SQS delivers it again",
                message.message_id,
                message.receive_count,
            )
            return Handled(message.message_id, "kept", deleted=False)
        await self.queue.delete(message)
        return Handled(message.message_id, result, deleted=True, notification_id=notification_id)

    async def _work(self, message: SqsMessage) -> tuple[Result, str | None]:
        notification = parse(message.body)
        if isinstance(notification, Malformed):
            await self._quarantine(notification)
            return "malformed", None
        if isinstance(notification, FeedFinished):
            if self.on_feed_finished is not None:
                await self.on_feed_finished(notification)
            return "feed_finished", notification.notification_id
        return await self._order_change(notification), notification.notification_id

    async def _order_change(self, notification: OrderChange) -> Result:
        try:
            taken = await notifications.take(
                self.uow_factory,
                envelope=notification.envelope,
                raw=notification.raw,
                spapi=self.spapi,
                vault=self.vault,
                pii=self.pii,
                topic=self.topic,
            )
        except UnknownSellingPartner:
            return "unknown_seller"  # take() quarantined it
        return cast(Result, taken.result)

    async def _quarantine(self, malformed: Malformed) -> None:
        rejected = Rejected(reasons=malformed.reasons, raw=malformed.raw)
        command = QuarantineInput(seller_id=None, source=SOURCE, rejected=rejected)
        async with self.uow_factory() as uow:
            await handlers.quarantine_input(uow, command=command, pii=self.pii)
            await uow.commit()


async def run_notifications(
    resources: Resources[Any],
    *,
    on_feed_finished: Callable[[FeedFinished], Awaitable[None]] | None = None,
) -> None:
    """Background job: consume ``SQS_QUEUE_URL`` forever; nothing when it is unset."""
    settings: IngestSettings = resources.deps.settings
    if not settings.sqs_queue_url:
        log.info("SQS notifications consumer disabled (SQS_QUEUE_URL unset)")
        return
    async with NotificationQueue.from_settings(settings) as queue:
        consumer = NotificationsConsumer(
            queue=queue,
            uow_factory=uow_factory_of(resources),
            spapi=spapi_of(resources),
            vault=vault_of(resources),
            pii=resources.deps.pii,
            topic=settings.topic(topics.ORDERS),
            on_feed_finished=on_feed_finished,
        )
        log.info("consuming Amazon's notifications from %s", settings.sqs_queue_url)
        await consumer.run()
