"""Amazon's ORDER_CHANGE notification (the SQS message body), with Amazon's names.

Only what ingest uses is validated; the rest is ignored. The notification carries no prices,
ASINs or buyer PII: the order itself is fetched again with getOrder.
"""

from __future__ import annotations

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from ingest.adapters.amazon_v0 import AMAZON_ORDER_ID


class _Amazon(BaseModel):
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True, frozen=True)


class Metadata(_Amazon):
    ApplicationId: str | None = None
    SubscriptionId: str | None = None
    PublishTime: AwareDatetime | None = None
    NotificationId: str = Field(min_length=1, max_length=128)


class ChangeSummary(_Amazon):
    MarketplaceId: str | None = None
    OrderStatus: str | None = None


class ChangeTrigger(_Amazon):
    TimeOfOrderChange: AwareDatetime | None = None
    ChangeReason: str | None = None


class OrderChange(_Amazon):
    NotificationLevel: str | None = None
    SellerId: str = Field(min_length=1, max_length=64)
    AmazonOrderId: str = Field(pattern=AMAZON_ORDER_ID)
    OrderChangeType: str | None = None
    OrderChangeTrigger: ChangeTrigger | None = None
    Summary: ChangeSummary | None = None


class ChangePayload(_Amazon):
    OrderChangeNotification: OrderChange


class OrderChangeEnvelope(_Amazon):
    NotificationVersion: str | None = None
    NotificationType: str = Field(pattern="^ORDER_CHANGE$")
    PayloadVersion: str | None = None
    EventTime: AwareDatetime | None = None
    Payload: ChangePayload
    NotificationMetadata: Metadata
