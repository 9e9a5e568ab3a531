"""What a client asks the gateway to do: one command, one handler
(``amazon/service_layer/handlers.py``)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ingest.amazon.domain.connections import Action, Credentials, OrdersApi, Region
from ingest.amazon.domain.submissions import Kind


@dataclass(frozen=True)
class AddConnection:
    seller_id: str
    selling_partner_id: str
    region: Region
    marketplace_ids: tuple[str, ...]
    orders_api: OrdersApi
    endpoint: str
    lwa_token_url: str | None
    credentials: Credentials
    sync_from: datetime


@dataclass(frozen=True)
class ChangeConnection:
    """Pause or resume a connection (``Action.PAUSE`` / ``Action.RESUME``)."""

    connection_id: uuid.UUID
    seller_id: str
    action: Action


@dataclass(frozen=True)
class RemoveConnection:
    connection_id: uuid.UUID
    seller_id: str


@dataclass(frozen=True)
class TakeNotification:
    """An ORDER_CHANGE notification as the SQS forwarder hands it over (``envelope``: the
    parsed ``OrderChangeEnvelope``; ``raw``: the same as JSON, kept if it is quarantined)."""

    envelope: Any
    raw: dict[str, Any]


@dataclass(frozen=True)
class RetryConfirmation:
    confirmation_id: uuid.UUID
    seller_id: str | None


@dataclass(frozen=True)
class RetrySubmission:
    submission_id: uuid.UUID
    seller_id: str | None
    kind: Kind | None = None  # None: of any kind


Command = (
    AddConnection
    | ChangeConnection
    | RemoveConnection
    | TakeNotification
    | RetryConfirmation
    | RetrySubmission
)
