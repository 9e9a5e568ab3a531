"""Defects' unit of work as the service layer sees it: one transaction per use case over the
repositories below, and the events it announces (the API of ``shared.unit_of_work``: begin on
enter, ``publish``, explicit ``commit``; leaving without a commit rolls back).

These are protocols: ``defects.adapters`` implements them on PostgreSQL
(``adapters.unit_of_work.SqlUnitOfWork``, ``adapters.repository``), the unit tests in memory.
The service layer imports neither, nor any database driver.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from datetime import datetime
from types import TracebackType
from typing import Any, Protocol, Self

from pydantic import BaseModel

from defects.domain.evidence_files import EvidenceFile
from defects.domain.model import Activity, Claim, ClaimKind, Feedback, OrderFacts, StoredEvidence
from shared.events.orders import OrderSnapshot
from shared.messaging.envelope import CloudEvent

OrderKey = tuple[str, str]  # (amazon_order_id, seller_id)
FactId = tuple[str, str, str]  # (amazon_order_id, kind, key)


class Orders(Protocol):
    """Orders from orders.v1 and facts from fulfillment.v1, each kept only if newer."""

    async def apply_snapshots(self, snapshots: Sequence[OrderSnapshot]) -> int:
        """Store each snapshot (one per order id at most) over an older version; how many."""
        ...

    async def apply_facts(self, facts: Sequence[tuple[FactId, int, BaseModel]]) -> int:
        """Store each fact (its id, fulfillment's version, the event's payload; one per id at
        most) over an older version; how many."""
        ...

    async def facts(self, amazon_order_id: str, seller_id: str) -> OrderFacts: ...

    async def facts_of(self, keys: Iterable[OrderKey]) -> dict[OrderKey, OrderFacts]:
        """Facts of many (order, seller) pairs; an order of another seller is never linked."""
        ...


class Claims(Protocol):
    async def add(self, claim: Claim) -> None: ...

    async def filed_before(
        self, *, seller_id: str, amazon_order_id: str, kind: ClaimKind, filed_at: datetime
    ) -> Claim | None:
        """The case filed for this order, of this kind, at this time, if any; until the
        transaction ends, another filing for the order waits for this one."""
        ...

    async def get(
        self, claim_id: uuid.UUID, *, seller_id: str | None, lock: bool = False
    ) -> Claim | None: ...

    async def save(self, claim: Claim) -> None: ...

    async def add_activity(
        self,
        *,
        claim: Claim,
        at: datetime,
        action: str,
        from_status: str | None,
        text: str | None = None,
        details: dict[str, Any] | None = None,
    ) -> int:
        """Record a step of the case's history; its id."""
        ...

    async def activity(self, claim_id: uuid.UUID) -> list[Activity]: ...

    async def add_file(
        self, *, file_id: uuid.UUID, claim_id: uuid.UUID, activity_id: int, file: EvidenceFile
    ) -> None: ...

    async def files(self, claim_id: uuid.UUID) -> list[StoredEvidence]:
        """The claim's files, without their content."""
        ...

    async def file(self, claim_id: uuid.UUID, file_id: uuid.UUID) -> StoredEvidence | None:
        """One file, with its content."""
        ...

    async def page(
        self,
        *,
        seller_id: str | None,
        status: str | None,
        kind: str | None,
        amazon_order_id: str | None,
        due_before: datetime | None,
        after: tuple[datetime | None, int] | None,
        limit: int,
    ) -> list[tuple[Claim, int]]:
        """Cases with their sequence numbers: newest first; with ``due_before``, earliest due
        first."""
        ...

    async def overdue_unflagged(self, now: datetime, limit: int) -> list[Claim]:
        """Claims past their due time whose current deadline is not flagged yet, locked."""
        ...

    async def open_cases(self, seller_id: str | None, limit: int) -> list[Claim]: ...


class FeedbackRecords(Protocol):
    async def add(self, feedback: Feedback) -> None: ...

    async def received_before(
        self, *, seller_id: str, amazon_order_id: str, received_at: datetime
    ) -> Feedback | None:
        """The feedback recorded for this order as received at this time, if any; until the
        transaction ends, other feedback for the order waits for this one."""
        ...

    async def get(
        self, feedback_id: uuid.UUID, *, seller_id: str | None, lock: bool = False
    ) -> Feedback | None: ...

    async def save(self, feedback: Feedback) -> None: ...

    async def page(
        self,
        *,
        seller_id: str | None,
        amazon_order_id: str | None,
        status: str | None,
        negative_only: bool,
        before_seq: int | None,
        limit: int,
    ) -> list[tuple[Feedback, int]]:
        """Feedback with its sequence numbers, newest first."""
        ...

    async def open_negative(self, seller_id: str | None, limit: int) -> list[Feedback]: ...


class UnitOfWork(Protocol):
    @property
    def orders(self) -> Orders: ...

    @property
    def claims(self) -> Claims: ...

    @property
    def feedback(self) -> FeedbackRecords: ...

    async def __aenter__(self) -> Self: ...

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...

    def publish(
        self,
        events: Sequence[CloudEvent],
        *,
        topic: str | None = None,
        payloads: Sequence[bytes] | None = None,
    ) -> None:
        """Queue ``events`` for ``topic`` (default: defects.v1); written to the outbox on commit."""
        ...

    async def commit(self) -> None: ...
