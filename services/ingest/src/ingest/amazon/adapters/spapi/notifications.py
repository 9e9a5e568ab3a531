"""Amazon's ORDER_CHANGE notification (the SQS message body), with Amazon's names.

Only what ingest uses is validated; the rest is ignored. The notification carries no prices,
ASINs or buyer PII: the order itself is fetched again with getOrder.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from shared import inputs

NotificationId = Annotated[
    str, StringConstraints(pattern=inputs.IDENTIFIER, min_length=1, max_length=128)
]


class _Amazon(BaseModel):
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True, frozen=True)


class Metadata(_Amazon):
    ApplicationId: Annotated[str, inputs.Line(256)] | None = None
    SubscriptionId: Annotated[str, inputs.Line(256)] | None = None
    PublishTime: inputs.Moment | None = None
    NotificationId: NotificationId


class ChangeSummary(_Amazon):
    MarketplaceId: inputs.MarketplaceId | None = None
    OrderStatus: inputs.Code | None = None


class ChangeTrigger(_Amazon):
    TimeOfOrderChange: inputs.Moment | None = None
    ChangeReason: inputs.Reason | None = None


class OrderChange(_Amazon):
    NotificationLevel: inputs.Code | None = None
    SellerId: inputs.SellerId
    AmazonOrderId: inputs.AmazonOrderId
    OrderChangeType: inputs.Code | None = None
    OrderChangeTrigger: ChangeTrigger | None = None
    Summary: ChangeSummary | None = None


class ChangePayload(_Amazon):
    OrderChangeNotification: OrderChange


class OrderChangeEnvelope(_Amazon):
    NotificationVersion: inputs.Code | None = None
    NotificationType: str = Field(pattern="^ORDER_CHANGE$")
    PayloadVersion: inputs.Code | None = None
    EventTime: inputs.Moment | None = None
    Payload: ChangePayload
    NotificationMetadata: Metadata
