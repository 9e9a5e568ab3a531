"""The repositories the service layer works with, as ``Protocol``s: the SQL implementations are
in ``adapters/repository.py``, the in-memory ones in the tests' fakes.

Rows are read-model rows with attribute access (``row.version``, ``row.seller_id``), named
after the columns of ``adapters/orm.py``.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from datetime import date, datetime
from typing import Any, Protocol

from analytics.domain.metrics import DeliveryCounts, HealthCounts
from analytics.domain.model import Alert

# A key of the daily sales rollup (seller, kind, day, currency, dim1, dim2) and its figures
# (orders, units, revenue, canceled, replacements): see adapters/daily_sales.py.
SalesKey = tuple[Any, ...]
SalesFigures = tuple[Any, ...]
# A key of the health rollup by day (seller, kind, channel, day) and its counts: see
# adapters/health_days.py.
HealthDayKey = tuple[Any, ...]
HealthDayFigures = tuple[Any, ...]


class ReadModelWrites(Protocol):
    """What the projections write, in the consumer's transaction. Every upsert is guarded by
    the version it carries (a row is replaced only by a newer one); each answers whether (or
    which keys) it applied."""

    async def order_versions(self, ids: Iterable[str]) -> dict[str, int]: ...

    async def upsert_orders(self, rows: Sequence[dict[str, Any]]) -> set[str]: ...

    async def replace_items(
        self, held_ids: Collection[str], items: Sequence[dict[str, Any]]
    ) -> None: ...

    async def lock_orders(self, ids: Collection[str]) -> None:
        """Serialise the writers of these orders' rows (and so of their shares of the rollups)
        until the transaction ends."""
        ...

    async def refresh_health(self, ids: Collection[str]) -> None:
        """Recompute the health rollup's rows of the orders ``ids`` from the read models."""
        ...

    async def health_contributions(
        self, ids: Collection[str]
    ) -> dict[HealthDayKey, HealthDayFigures]:
        """What the orders ``ids`` add to the health rollup by day, as the health rollup's rows
        of them and their shipments hold them."""
        ...

    async def add_to_health_days(self, figures: dict[HealthDayKey, HealthDayFigures]) -> None: ...

    async def sales_contributions(self, ids: Collection[str]) -> dict[SalesKey, SalesFigures]:
        """What the orders ``ids`` add to the daily sales rollup, as the read models hold them."""
        ...

    async def add_to_daily_sales(self, figures: dict[SalesKey, SalesFigures]) -> None: ...

    async def lock_ads_of(self, subjects: Collection[str]) -> None:
        """Serialise the writers of these ad rows until the transaction ends."""
        ...

    async def ad_contributions(self, subjects: Collection[str]) -> dict[SalesKey, SalesFigures]:
        """What the ad rows ``subjects`` add to the daily ads rollup (key seller, kind, day,
        currency, ASIN, SKU; figures attributed orders, spend, attributed sales, clicks,
        impressions: see adapters/daily_ads.py), as the read model holds them."""
        ...

    async def add_to_daily_ads(self, figures: dict[SalesKey, SalesFigures]) -> None: ...

    async def lock_fulfillment_order(self, amazon_order_id: str) -> Any | None: ...

    async def insert_fulfillment_order(self, values: dict[str, Any]) -> None: ...

    async def update_fulfillment_order(
        self, amazon_order_id: str, values: dict[str, Any]
    ) -> None: ...

    async def upsert_shipment(self, values: dict[str, Any]) -> bool: ...

    async def upsert_case(self, values: dict[str, Any]) -> bool: ...

    async def upsert_ad_row(self, values: dict[str, Any]) -> bool: ...

    async def upsert_amazon_health(self, values: dict[str, Any]) -> bool: ...

    async def record_events(self, rows: Sequence[dict[str, Any]]) -> None: ...

    async def forget_events_before(self, before: datetime, limit: int) -> int: ...


class Reads(Protocol):
    """What the API and the alert job read. With ``seller_id``, only that seller's rows."""

    async def health_counts(self, seller_id: str, *, as_of: datetime) -> HealthCounts: ...

    async def delivery_counts(
        self, seller_id: str, *, as_of: datetime, since: datetime
    ) -> DeliveryCounts: ...

    async def amazon_health(self, seller_id: str) -> list[Any]:
        """Per marketplace, the newest of Amazon's seller performance reports (in marketplace
        order; empty: none received)."""
        ...

    async def health_next_change(
        self, seller_id: str, *, as_of: datetime, since: datetime
    ) -> datetime | None:
        """The first moment from ``as_of`` at which time alone may change the seller's
        ``health_counts`` (None: never, until new events)."""
        ...

    async def sellers_with_events_since(self, moment: datetime) -> list[str]: ...

    async def sellers(self) -> list[str]: ...

    async def latest_event_id(self) -> int: ...

    async def sellers_with_events(self, after_id: int, upto_id: int) -> list[str]: ...

    async def daily_sales(
        self,
        seller_id: str | None,
        kind: str,
        start: date,
        end: date,
        period: str | None,
        dim1: Sequence[str] | None = None,
    ) -> list[Any]:
        """Rows ``period, currency_code, dim1, dim2, orders, units, revenue, canceled,
        replacements`` of the rollup's ``kind``, summed by period, currency and keys (with
        ``dim1``, only the keys whose dim1 is one of those)."""
        ...

    async def sku_page(
        self,
        seller_id: str | None,
        start: date,
        end: date,
        after: tuple[int, int, str, str] | None,
        limit: int,
    ) -> list[Any]:
        """Rows ``sku, currency_code, orders, units, revenue``: the rollup's ``sku`` kind
        summed over the range by SKU and currency, units descending, then orders descending,
        then SKU and currency; the first ``limit`` after the sort key ``after``."""
        ...

    async def ad_totals(self, seller_id: str | None, start: date, end: date) -> list[Any]:
        """Rows ``asin, seller_sku, currency_code`` with the sums of ``attributed_orders,
        spend, attributed_sales, clicks, impressions``."""
        ...

    async def order(self, amazon_order_id: str, seller_id: str | None = None) -> Any | None: ...

    async def fulfillment_of(
        self, amazon_order_id: str, seller_id: str | None = None
    ) -> Any | None: ...

    async def events_of(self, subject: str, seller_id: str | None = None) -> list[Any]: ...

    async def cases_of(self, amazon_order_id: str, seller_id: str | None = None) -> list[Any]: ...

    async def shipments_of(
        self, amazon_order_id: str, seller_id: str | None = None
    ) -> list[Any]: ...

    async def dead_letters_of(self, subject: str) -> list[Any]: ...

    async def outbox_backlog(self) -> int: ...


class Alerts(Protocol):
    async def active(self, seller_id: str) -> dict[tuple[str, str], Alert]:
        """The seller's active alerts by (metric, scope), locked."""
        ...

    async def add(self, values: dict[str, Any]) -> Alert:
        """The alert stored (with its id); raises ``AlertRaced`` when another process raised
        the same one first."""
        ...

    async def clear(self, alert_id: int, *, state: str, at: datetime) -> Alert: ...

    async def page(
        self, *, seller_id: str | None, state: str | None, before_id: int | None, limit: int
    ) -> list[Alert]: ...
