"""Amazon's SP-API notifications from an SQS queue, over the SQS protocol (aiobotocore).

Amazon writes each notification's JSON as the message body, as it is (no SNS envelope).
:class:`NotificationQueue` long-polls the queue and deletes a message by its receipt handle;
a message not deleted comes back after its visibility timeout, so the caller deletes only
after its work committed. :func:`parse` turns a body into an :class:`OrderChange`, a
:class:`FeedFinished` or a :class:`Malformed` (never raises): the caller keeps a malformed
message where an operator sees it before deleting it.
"""

from __future__ import annotations

import json
import logging
from contextlib import AsyncExitStack
from dataclasses import dataclass
from types import TracebackType
from typing import Any

from aiobotocore.session import get_session
from pydantic import ValidationError

from ingest.amazon.adapters.spapi.feed_notifications import FeedProcessingFinishedEnvelope
from ingest.amazon.adapters.spapi.notifications import OrderChangeEnvelope
from ingest.settings import IngestSettings

log = logging.getLogger(__name__)

ORDER_CHANGE = "ORDER_CHANGE"
FEED_PROCESSING_FINISHED = "FEED_PROCESSING_FINISHED"


@dataclass(frozen=True)
class SqsMessage:
    message_id: str
    receipt_handle: str
    body: str
    receive_count: int


@dataclass(frozen=True)
class OrderChange:
    notification_id: str
    envelope: OrderChangeEnvelope
    raw: dict[str, Any]


@dataclass(frozen=True)
class FeedFinished:
    notification_id: str
    envelope: FeedProcessingFinishedEnvelope
    raw: dict[str, Any]


@dataclass(frozen=True)
class Malformed:
    """A body that is not JSON, not a notification type ingest takes, or fails validation:
    ``reasons`` are ``{"field", "message"}`` as quarantine stores them; ``raw`` is the parsed
    JSON object when there was one, else ``{"body": <text>}``."""

    reasons: list[dict[str, str]]
    raw: dict[str, Any]


Notification = OrderChange | FeedFinished | Malformed


def parse(body: str) -> Notification:
    """What ``body`` holds; never raises."""
    try:
        raw = json.loads(body)
    except ValueError as exc:
        return Malformed([{"field": "body", "message": f"not JSON: {exc}"}], {"body": body})
    if not isinstance(raw, dict):
        return Malformed([{"field": "body", "message": "not a JSON object"}], {"body": body})
    kind = raw.get("NotificationType", raw.get("notificationType"))
    try:
        if kind == ORDER_CHANGE:
            change = OrderChangeEnvelope.model_validate(raw)
            return OrderChange(change.NotificationMetadata.NotificationId, change, raw)
        if kind == FEED_PROCESSING_FINISHED:
            feed = FeedProcessingFinishedEnvelope.model_validate(raw)
            return FeedFinished(feed.notificationMetadata.notificationId, feed, raw)
    except ValidationError as exc:
        return Malformed(_reasons(exc), raw)
    message = f"notification type {kind!r} is not one ingest takes"
    return Malformed([{"field": "NotificationType", "message": message[:500]}], raw)


def _reasons(exc: ValidationError) -> list[dict[str, str]]:
    return [
        {"field": ".".join(str(part) for part in error["loc"]), "message": error["msg"]}
        for error in exc.errors(include_url=False, include_input=False)
    ]


class NotificationQueue:
    """One SQS queue: ``async with NotificationQueue(...) as queue`` opens the SDK client."""

    def __init__(
        self,
        *,
        queue_url: str,
        endpoint_url: str = "",
        region: str = "us-east-1",
        access_key_id: str = "",
        secret_access_key: str = "",
        wait_seconds: int = 20,
        max_messages: int = 10,
        visibility_timeout_seconds: int = 120,
    ) -> None:
        self.queue_url = queue_url
        self.wait_seconds = wait_seconds
        self.max_messages = max_messages
        self.visibility_timeout_seconds = visibility_timeout_seconds
        self._client_args: dict[str, Any] = {"region_name": region}
        if endpoint_url:
            self._client_args["endpoint_url"] = endpoint_url
        if access_key_id:
            self._client_args["aws_access_key_id"] = access_key_id
            self._client_args["aws_secret_access_key"] = secret_access_key
        self._stack = AsyncExitStack()
        self._client: Any = None

    @classmethod
    def from_settings(cls, settings: IngestSettings) -> NotificationQueue:
        return cls(
            queue_url=settings.sqs_queue_url,
            endpoint_url=settings.sqs_endpoint_url,
            region=settings.sqs_region,
            access_key_id=settings.sqs_access_key_id,
            secret_access_key=settings.sqs_secret_access_key,
            wait_seconds=settings.sqs_wait_seconds,
            max_messages=settings.sqs_max_messages,
            visibility_timeout_seconds=settings.sqs_visibility_timeout_seconds,
        )

    async def __aenter__(self) -> NotificationQueue:
        creator = get_session().create_client("sqs", **self._client_args)
        self._client = await self._stack.enter_async_context(creator)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._client = None
        await self._stack.aclose()

    async def receive(self) -> list[SqsMessage]:
        """Long-poll once: up to ``max_messages``, waiting up to ``wait_seconds`` for the
        first; each received message is hidden from other consumers for the visibility
        timeout."""
        response = await self._client.receive_message(
            QueueUrl=self.queue_url,
            WaitTimeSeconds=self.wait_seconds,
            MaxNumberOfMessages=self.max_messages,
            VisibilityTimeout=self.visibility_timeout_seconds,
            AttributeNames=["ApproximateReceiveCount"],
        )
        return [_message(item) for item in response.get("Messages", [])]

    async def delete(self, message: SqsMessage) -> None:
        await self._client.delete_message(
            QueueUrl=self.queue_url, ReceiptHandle=message.receipt_handle
        )

    async def send(self, body: str) -> str:
        """Put ``body`` on the queue (as Amazon does; tests and the stand-in use it)."""
        response = await self._client.send_message(QueueUrl=self.queue_url, MessageBody=body)
        return str(response["MessageId"])


def _message(item: dict[str, Any]) -> SqsMessage:
    count = item.get("Attributes", {}).get("ApproximateReceiveCount", "1")
    return SqsMessage(
        message_id=item["MessageId"],
        receipt_handle=item["ReceiptHandle"],
        body=item.get("Body", ""),
        receive_count=int(count),
    )
