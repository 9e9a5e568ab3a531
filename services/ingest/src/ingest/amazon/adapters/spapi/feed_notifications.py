"""Amazon's FEED_PROCESSING_FINISHED notification (the SQS message body), with Amazon's names.

Unlike ORDER_CHANGE, this notification's keys are camelCase (Amazon's Notifications API
reference, "FEED_PROCESSING_FINISHED"): ``payload.feedProcessingFinishedNotification`` names
the feed, its final ``processingStatus`` (DONE, CANCELLED, FATAL) and, when there is one, the
``resultFeedDocumentId`` of its processing report. Only what ingest uses is validated.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from ingest.amazon.adapters.spapi.notifications import NotificationId
from shared import inputs


class _Amazon(BaseModel):
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True, frozen=True)


class FeedMetadata(_Amazon):
    applicationId: Annotated[str, inputs.Line(256)] | None = None
    subscriptionId: Annotated[str, inputs.Line(256)] | None = None
    publishTime: inputs.Moment | None = None
    notificationId: NotificationId


class FeedProcessingFinished(_Amazon):
    sellerId: inputs.SellerId
    accountId: Annotated[str, inputs.Line(256)] | None = None
    feedId: inputs.Identifier
    feedType: inputs.Code
    processingStatus: Annotated[str, Field(pattern="^(DONE|CANCELLED|FATAL)$")]
    resultFeedDocumentId: Annotated[str, inputs.Line(256)] | None = None


class FeedPayload(_Amazon):
    feedProcessingFinishedNotification: FeedProcessingFinished


class FeedProcessingFinishedEnvelope(_Amazon):
    notificationVersion: inputs.Code | None = None
    notificationType: str = Field(pattern="^FEED_PROCESSING_FINISHED$")
    payloadVersion: inputs.Code | None = None
    eventTime: inputs.Moment | None = None
    payload: FeedPayload
    notificationMetadata: FeedMetadata
