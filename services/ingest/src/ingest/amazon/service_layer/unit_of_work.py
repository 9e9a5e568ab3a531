"""The gateway's unit of work: intake's (orders, quarantine, uploads, ad rows: a sync page or a
notification hands its orders to intake's handlers in the same transaction), plus connections,
notifications, Amazon's seller performance reports, and everything sent to Amazon (shipment
confirmations are its ``shipment_confirmation`` view).

The repositories are ``Protocol``s: the SQL ones are in ``amazon/adapters/``, the unit tests'
in-memory ones in ``tests/ingest/fakes.py``. ``SqlGatewayUnitOfWork`` binds the SQL ones to the
session (the one service-layer module that names it).
"""

from __future__ import annotations

import abc
import uuid
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from ingest.amazon.adapters.confirmation_repository import ConfirmationRepository
from ingest.amazon.adapters.performance_repository import PerformanceReportRepository
from ingest.amazon.adapters.repository import ConnectionRepository, NotificationRepository
from ingest.amazon.adapters.submission_repository import SubmissionRepository
from ingest.intake.service_layer.unit_of_work import IntakeUnitOfWork, SqlIntakeUnitOfWork


class Connections(Protocol):
    async def add(self, **values: Any) -> bool: ...

    async def get(self, connection_id: uuid.UUID, seller_id: str | None) -> Any | None: ...

    async def page(
        self, *, seller_id: str | None, after: tuple[datetime, uuid.UUID] | None, limit: int
    ) -> list[Any]: ...

    async def update(self, connection_id: uuid.UUID, **values: Any) -> None: ...

    async def advance(self, connection_id: uuid.UUID, changed: int, **values: Any) -> None: ...

    async def delete(self, connection_id: uuid.UUID) -> None: ...

    async def of_selling_partner(self, selling_partner_id: str) -> list[Any]: ...

    async def claim_due(self, owner: str, lease: timedelta) -> Any | None: ...

    async def lock_lease(self, connection_id: uuid.UUID, owner: str) -> Any | None: ...

    async def renew_lease(self, connection_id: uuid.UUID, owner: str, lease: timedelta) -> None: ...

    async def release(self, connection_id: uuid.UUID, owner: str, **values: Any) -> None: ...


class Notifications(Protocol):
    async def seen(self, notification_id: str) -> bool: ...

    async def record(self, **values: Any) -> bool: ...


class SubmissionView(Protocol):
    """The rows of ``amazon_submissions`` of one kind, or of every kind: what the API reads
    and what a retry changes."""

    async def get(
        self, submission_id: uuid.UUID, seller_id: str | None, /, *, lock: bool = False
    ) -> Any | None: ...

    async def page(
        self,
        *,
        seller_id: str | None,
        status: str | None,
        amazon_order_id: str | None,
        after: tuple[datetime, uuid.UUID] | None,
        limit: int,
    ) -> list[Any]: ...

    async def of_order(self, amazon_order_id: str) -> list[Any]: ...

    async def update(self, submission_id: uuid.UUID, /, **values: Any) -> None: ...


class Confirmations(SubmissionView, Protocol):
    async def add(self, **values: Any) -> bool: ...

    async def supersede_older(self, shipment_id: str, version: int, reason: str) -> None: ...

    async def newest_version(self, shipment_id: str) -> int | None: ...

    async def claim_due(self, lease: timedelta, limit: int) -> list[Any]: ...

    async def finish(self, confirmation_id: uuid.UUID, /, **values: Any) -> bool: ...

    async def active_connection(self, seller_id: str, marketplace_id: str | None) -> Any | None: ...

    async def channel_of_order(self, amazon_order_id: str) -> str | None: ...


class Submissions(SubmissionView, Protocol):
    """Every kind of Amazon submission (cancellations and adjustments: feed messages)."""

    async def add_referenced(self, **values: Any) -> bool: ...

    async def finish(
        self, submission_id: uuid.UUID, /, *, expected: str = "pending", **values: Any
    ) -> bool: ...

    async def active_connection(self, seller_id: str, marketplace_id: str | None) -> Any | None: ...

    async def order_snapshot(self, amazon_order_id: str) -> dict[str, Any]: ...

    async def waiting(self) -> list[Any]: ...

    async def claim_batch(
        self, *, seller_id: str, marketplace_id: str, feed_type: str, lease: timedelta, limit: int
    ) -> list[Any]: ...

    async def submitted_feeds(self) -> list[Any]: ...

    async def of_feed(self, feed_id: str) -> list[Any]: ...


class PerformanceReports(Protocol):
    """Amazon's seller performance reports requested per connection."""

    async def claim_due_connections(self, now: datetime, every: timedelta, limit: int) -> int: ...

    async def claim_open(self, now: datetime, lease: timedelta, limit: int) -> list[Any]: ...

    async def update(self, report_row_id: int, **values: Any) -> None: ...

    async def connection(self, connection_id: uuid.UUID) -> Any | None: ...

    async def of_seller(self, seller_id: str, limit: int) -> list[Any]: ...


class GatewayUnitOfWork(IntakeUnitOfWork):
    connections: Connections
    notifications: Notifications
    confirmations: Confirmations
    submissions: Submissions
    performance_reports: PerformanceReports

    @abc.abstractmethod
    def submissions_of(self, kind: str | None) -> Submissions:
        """The submissions of one kind (None: every kind)."""


class SqlGatewayUnitOfWork(SqlIntakeUnitOfWork, GatewayUnitOfWork):
    def _bind(self, session: AsyncSession) -> None:
        super()._bind(session)
        self.connections = ConnectionRepository(session)
        self.notifications = NotificationRepository(session)
        self.confirmations = ConfirmationRepository(session)
        self.submissions = SubmissionRepository(session)
        self.performance_reports = PerformanceReportRepository(session)

    def submissions_of(self, kind: str | None) -> Submissions:
        return SubmissionRepository(self.session, kind=kind)
