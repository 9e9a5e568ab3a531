"""What a client asks intake to do: one command, one handler (``service_layer/handlers.py``)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from ingest.intake.domain.model import IncomingOrder, Rejected
from shared.events.ads import AdPerformance


@dataclass(frozen=True)
class AcceptOrders:
    """Take a batch in, in order; the rejected entries are quarantined. ``source``: api,
    batch, upload or sp-api."""

    seller_id: str
    entries: Sequence[IncomingOrder | Rejected]
    source: str
    correlation_id: str | None = None
    upload_id: uuid.UUID | None = None


@dataclass(frozen=True)
class QuarantineInput:
    """Keep input that cannot become an order, sealed, with the reasons."""

    seller_id: str | None
    source: str
    rejected: Rejected
    upload_id: uuid.UUID | None = None


@dataclass(frozen=True)
class ReportAdRows:
    rows: Sequence[AdPerformance]
    correlation_id: str | None = None


@dataclass(frozen=True)
class RegisterUpload:
    seller_id: str
    filename: str | None
    content: bytes


Command = AcceptOrders | QuarantineInput | ReportAdRows | RegisterUpload
