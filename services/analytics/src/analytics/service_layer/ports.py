"""What the service layer needs from the world outside its database, as ``Protocol``s: ingest's
view of an order and of the seller's Amazon connections, the consumer lag, the other services'
ops endpoints and this process's own progress. The adapters implement them
(``adapters/ingest_client.py``, ``kafka_lag.py``, ``peers.py``); unit tests hand in fakes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from analytics.domain.amazon_connection import AmazonConnection


@dataclass(frozen=True)
class Unreachable:
    reason: str


@dataclass(frozen=True)
class IngestView:
    order: dict[str, Any] | None  # None: ingest does not hold it
    quarantine: list[dict[str, Any]]


class IngestPort(Protocol):
    async def view(
        self, amazon_order_id: str, *, seller: str | None = None
    ) -> IngestView | Unreachable:
        """What ingest holds of the order; with ``seller``, what it holds for that seller only
        (another seller's order is then not there, as for that seller's own key)."""
        ...

    async def connections(self, *, seller: str) -> list[AmazonConnection] | Unreachable:
        """Every Amazon connection of ``seller`` with its sync health (that seller's only)."""
        ...


@dataclass(frozen=True)
class PartitionLag:
    group: str
    topic: str
    partition: int
    committed: int | None
    end: int

    @property
    def lag(self) -> int:
        return self.end - (self.committed or 0)


class LagPort(Protocol):
    async def lag(self, groups: list[str]) -> dict[str, list[PartitionLag]]: ...


class PeersPort(Protocol):
    """The other services over REST; every call answers ``None`` (or ``reachable: False``)
    when a service is down, never raises."""

    @property
    def names(self) -> list[str]: ...

    @property
    def consumers(self) -> list[str]:
        """The peers that consume topics, so may hold dead letters."""
        ...

    async def overview(self, name: str) -> dict[str, Any]: ...

    async def order(
        self, name: str, amazon_order_id: str, *, seller: str | None = None
    ) -> dict[str, Any] | None: ...

    async def dead_letters_of(self, name: str, subject: str) -> list[dict[str, Any]] | None: ...


class ProgressPort(Protocol):
    def __call__(self) -> dict[str, Any] | None:
        """This process's relay and worker progress as its own ``/metrics`` shows it."""
        ...


class DeadLetterCounts(Protocol):
    async def count_by_status(self) -> dict[str, int]: ...
