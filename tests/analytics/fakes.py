"""In-memory stand-ins for analytics' unit of work and ports, for unit tests (no I/O).

``FakeUnitOfWork`` holds its rows in a ``Store`` shared by every unit of work a test makes
(as the database is), keeps what a transaction wrote only when it commits, and counts its
commits; the events it published are in ``store.published``. Rows are ``SimpleNamespace``s
with the columns of ``analytics.adapters.orm`` the service layer reads.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import json
from collections.abc import AsyncIterator, Collection, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

from analytics.domain.amazon_connection import AmazonConnection
from analytics.domain.errors import AlertRaced
from analytics.domain.metrics import (
    CHANNELS,
    DEFECT_KINDS,
    LSR_DAYS,
    DeliveryCounts,
    HealthCounts,
    Ratio,
)
from analytics.domain.model import Alert
from analytics.service_layer.ports import IngestView, PartitionLag, Unreachable
from analytics.service_layer.unit_of_work import UnitOfWork
from shared import marketplaces
from shared.messaging.envelope import CloudEvent
from shared.unit_of_work import Queued

EPOCH = datetime(2026, 1, 1, tzinfo=UTC)
FULFILLMENT_COLUMNS = (
    "purchase_date",
    "latest_ship_date",
    "canceled_at",
    "canceled_by",
    "cancel_reason",
    "cancel_buyer_requested",
    "cancel_version",
    "ship_late_at",
    "ship_late_version",
)


def no_counts() -> HealthCounts:
    """Counts of a seller with nothing to measure."""
    nothing = Ratio(0, 0)
    return HealthCounts(
        odr=dict.fromkeys(CHANNELS, nothing),
        odr_by_kind={ch: dict.fromkeys(DEFECT_KINDS, 0) for ch in CHANNELS},
        late_shipment=dict.fromkeys(LSR_DAYS, nothing),
        pre_fulfillment_cancel=nothing,
    )


def counts(*, mfn_odr: Ratio | None = None) -> HealthCounts:
    """Counts of a seller with the given MFN order defects."""
    base = no_counts()
    return dataclasses.replace(base, odr={**base.odr, "MFN": mfn_odr or Ratio(0, 0)})


def tracked(valid_tracking: Ratio) -> DeliveryCounts:
    """Scan counts of a seller with the given shipments scanned of those promised."""
    return dataclasses.replace(DeliveryCounts.none(), valid_tracking=valid_tracking)


@dataclass
class Tables:
    orders: dict[str, dict[str, Any]] = field(default_factory=dict)
    items: list[dict[str, Any]] = field(default_factory=list)
    fulfillment: dict[str, dict[str, Any]] = field(default_factory=dict)
    shipments: dict[str, dict[str, Any]] = field(default_factory=dict)
    cases: dict[str, dict[str, Any]] = field(default_factory=dict)
    ads: dict[str, dict[str, Any]] = field(default_factory=dict)
    amazon: dict[str, dict[str, Any]] = field(default_factory=dict)
    daily_sales: dict[tuple[Any, ...], tuple[Any, ...]] = field(default_factory=dict)
    daily_ads: dict[tuple[Any, ...], tuple[Any, ...]] = field(default_factory=dict)
    events: list[dict[str, Any]] = field(default_factory=list)
    alerts: list[dict[str, Any]] = field(default_factory=list)
    dead_letters: list[dict[str, Any]] = field(default_factory=list)
    outbox_unsent: int = 0


@dataclass
class Store:
    """The database of the fakes: committed tables, health counts per seller (what PostgreSQL
    would count), and every event committed to the outbox."""

    tables: Tables = field(default_factory=Tables)
    health: dict[str, HealthCounts] = field(default_factory=dict)
    delivery: dict[str, DeliveryCounts] = field(default_factory=dict)
    # when time alone may next change a seller's health counts (absent: never)
    health_changes: dict[str, datetime] = field(default_factory=dict)
    published: list[Queued] = field(default_factory=list)
    now: datetime = EPOCH  # recorded_at of event-log rows
    race_on_add: bool = False  # alerts.add raises AlertRaced (another process was first)

    @property
    def events(self) -> list[CloudEvent]:
        return [e for q in self.published for e in q.events]


AD_FIGURES = ("attributed_orders", "spend", "attributed_sales", "clicks", "impressions")


def _row(values: dict[str, Any]) -> SimpleNamespace:
    return SimpleNamespace(**values)


def _upsert_newer(table: dict[str, dict[str, Any]], key: str, values: dict[str, Any]) -> bool:
    held = table.get(values[key])
    if held is not None and held["version"] >= values["version"]:
        return False
    table[values[key]] = dict(values)
    return True


def sales_contributions(t: Tables, ids: Collection[str]) -> dict[Any, Any]:
    """What the orders ``ids`` add to the daily sales rollup: the rules of
    ``analytics.adapters.daily_sales`` written again over the fakes' tables."""
    out: dict[tuple[Any, ...], list[Any]] = {}

    def add(key: tuple[Any, ...], *figures: Any) -> None:
        held = out.setdefault(key, [0, 0, Decimal(0), 0, 0])
        for n, value in enumerate(figures):
            held[n] += value

    for oid in sorted(set(ids) & set(t.orders)):
        o = t.orders[oid]
        mp, seller = o["marketplace_id"], o["seller_id"]
        day = marketplaces.local_date(o["purchase_date"], mp)
        currency = o["currency_code"] or marketplaces.currency_of(mp) or "n/a"
        f = t.fulfillment.get(oid)
        canceled = o["order_status"] == "Canceled" or bool(f and f["canceled_at"] is not None)
        replacement = bool(o.get("is_replacement_order"))
        live = not canceled and not replacement
        total = (o["order_total"] or Decimal(0)) if live else Decimal(0)
        add(
            (seller, "order", day, currency, mp or "", o["fulfillment_channel"] or ""),
            int(live),
            o["units"] if live else 0,
            total,
            int(canceled),
            int(replacement and not canceled),
        )
        if not live:
            continue
        seen: set[tuple[Any, ...]] = set()
        for i in (i for i in t.items if i["amazon_order_id"] == oid):
            cur, price = i["currency_code"] or currency, i["item_price"] or Decimal(0)
            sku = i["seller_sku"]
            keys = [
                (seller, "sku", day, cur, sku or i["asin"], ""),
                (seller, "asin", day, cur, i["asin"], ""),
                (seller, "items", day, cur, "", ""),
            ]
            if sku:
                keys.append((seller, "sku_asin", day, "", sku, i["asin"]))
            for key in keys:
                add(
                    key,
                    int(key not in seen),
                    i["quantity"],
                    Decimal(0) if key[1] == "sku_asin" else price,
                    0,
                    0,
                )
                seen.add(key)
    return {k: tuple(v) for k, v in out.items()}


class FakeReadModels:
    def __init__(self, tables: Tables, store: Store) -> None:
        self.t, self.store = tables, store

    async def order_versions(self, ids: Iterable[str]) -> dict[str, int]:
        return {i: self.t.orders[i]["version"] for i in sorted(ids) if i in self.t.orders}

    async def upsert_orders(self, rows: Sequence[dict[str, Any]]) -> set[str]:
        return {
            r["amazon_order_id"] for r in rows if _upsert_newer(self.t.orders, "amazon_order_id", r)
        }

    async def replace_items(
        self, held_ids: Collection[str], items: Sequence[dict[str, Any]]
    ) -> None:
        self.t.items = [i for i in self.t.items if i["amazon_order_id"] not in held_ids]
        self.t.items += [dict(i) for i in items]

    async def lock_orders(self, ids: Collection[str]) -> None:
        pass  # one process: nothing to serialise

    async def refresh_health(self, ids: Collection[str]) -> None:
        pass  # the fake's health counts are set by the tests (``Store.health``)

    async def health_contributions(self, ids: Collection[str]) -> dict[Any, Any]:
        return {}

    async def add_to_health_days(self, figures: dict[Any, Any]) -> None:
        pass

    async def sales_contributions(self, ids: Collection[str]) -> dict[Any, Any]:
        return sales_contributions(self.t, ids)

    async def add_to_daily_sales(self, figures: dict[Any, Any]) -> None:
        for key, delta in figures.items():
            held = self.t.daily_sales.get(key, (0, 0, 0, 0, 0))
            self.t.daily_sales[key] = tuple(h + d for h, d in zip(held, delta, strict=True))

    async def lock_ads_of(self, subjects: Collection[str]) -> None:
        pass  # one process: nothing to serialise

    async def ad_contributions(self, subjects: Collection[str]) -> dict[Any, Any]:
        """By day only: the fakes' reads sum the ad rows themselves."""
        out: dict[tuple[Any, ...], tuple[Any, ...]] = {}
        for subject in sorted(set(subjects) & set(self.t.ads)):
            a = self.t.ads[subject]
            key = (a["seller_id"], "ad", a["date"], a["currency_code"])
            key += (a["asin"] or "", a["seller_sku"] or "")
            held = out.get(key, (0, Decimal(0), Decimal(0), 0, 0, 0))
            figures = [*(a[f] for f in AD_FIGURES), 1]
            out[key] = tuple(h + f for h, f in zip(held, figures, strict=True))
        return out

    async def add_to_daily_ads(self, figures: dict[Any, Any]) -> None:
        for key, delta in figures.items():
            held = self.t.daily_ads.get(key, (0,) * len(delta))
            self.t.daily_ads[key] = tuple(h + d for h, d in zip(held, delta, strict=True))

    async def lock_fulfillment_order(self, amazon_order_id: str) -> Any | None:
        row = self.t.fulfillment.get(amazon_order_id)
        return None if row is None else _row(dict(row))

    async def insert_fulfillment_order(self, values: dict[str, Any]) -> None:
        assert values["amazon_order_id"] not in self.t.fulfillment
        self.t.fulfillment[values["amazon_order_id"]] = {
            **dict.fromkeys(FULFILLMENT_COLUMNS),
            **values,
        }

    async def update_fulfillment_order(self, amazon_order_id: str, values: dict[str, Any]) -> None:
        self.t.fulfillment[amazon_order_id].update(values)

    async def upsert_shipment(self, values: dict[str, Any]) -> bool:
        return _upsert_newer(self.t.shipments, "shipment_id", values)

    async def upsert_case(self, values: dict[str, Any]) -> bool:
        return _upsert_newer(self.t.cases, "case_id", values)

    async def upsert_ad_row(self, values: dict[str, Any]) -> bool:
        return _upsert_newer(self.t.ads, "subject", values)

    async def upsert_amazon_health(self, values: dict[str, Any]) -> bool:
        return _upsert_newer(self.t.amazon, "subject", values)

    async def record_events(self, rows: Sequence[dict[str, Any]]) -> None:
        seen = {e["event_id"] for e in self.t.events}
        for row in rows:
            if row["event_id"] not in seen:
                seen.add(row["event_id"])
                self.t.events.append(
                    {
                        **row,
                        "id": len(self.t.events) + 1,
                        "topic": "unknown",
                        "kafka_partition": None,
                        "kafka_offset": None,
                        "recorded_at": self.store.now,
                    }
                )

    async def forget_events_before(self, before: datetime, limit: int) -> int:
        due = [e for e in self.t.events if e["recorded_at"] < before][:limit]
        self.t.events = [e for e in self.t.events if e not in due]
        return len(due)


class FakeReads:
    def __init__(self, tables: Tables, store: Store) -> None:
        self.t, self.store = tables, store

    async def daily_sales(
        self,
        seller_id: str | None,
        kind: str,
        start: date,
        end: date,
        period: str | None,
        dim1: Sequence[str] | None = None,
    ) -> list[Any]:
        summed: dict[tuple[Any, ...], list[Any]] = {}
        for (seller, k, day, currency, d1, dim2), figures in self.t.daily_sales.items():
            if k != kind or not start <= day <= end or seller_id not in (None, seller):
                continue
            if dim1 is not None and d1 not in dim1:
                continue
            at = {"day": day, "week": day - timedelta(days=day.weekday()), None: None}[period]
            held = summed.setdefault((at, currency, d1, dim2), [0, 0, Decimal(0), 0, 0])
            for n, value in enumerate(figures):
                held[n] += value
        names = ("orders", "units", "revenue", "canceled", "replacements")
        return [
            SimpleNamespace(
                period=p, currency_code=c, dim1=d1, dim2=d2, **dict(zip(names, f, strict=True))
            )
            for (p, c, d1, d2), f in summed.items()
            if f[0] or f[3] or f[4]
        ]

    async def sku_page(
        self,
        seller_id: str | None,
        start: date,
        end: date,
        after: tuple[int, int, str, str] | None,
        limit: int,
    ) -> list[Any]:
        rows = await self.daily_sales(seller_id, "sku", start, end, None)
        entries = [
            SimpleNamespace(
                sku=r.dim1,
                currency_code=r.currency_code,
                orders=r.orders,
                units=r.units,
                revenue=r.revenue,
            )
            for r in rows
        ]

        def key(e: Any) -> tuple[Any, ...]:
            return (-e.units, -e.orders, e.sku, e.currency_code)

        entries.sort(key=key)
        if after is not None:
            position = (-after[0], -after[1], after[2], after[3])
            entries = [e for e in entries if key(e) > position]
        return entries[:limit]

    async def ad_totals(self, seller_id: str | None, start: date, end: date) -> list[Any]:
        names = ("attributed_orders", "spend", "attributed_sales", "clicks", "impressions")
        summed: dict[tuple[Any, ...], dict[str, Any]] = {}
        for a in self.t.ads.values():
            if start <= a["date"] <= end and seller_id in (None, a["seller_id"]):
                key = (a["asin"], a["seller_sku"], a["currency_code"])
                held = summed.setdefault(key, dict.fromkeys(names, 0))
                for name in names:
                    held[name] += a[name]
        return [
            SimpleNamespace(asin=k[0], seller_sku=k[1], currency_code=k[2], **v)
            for k, v in summed.items()
        ]

    async def health_counts(self, seller_id: str, *, as_of: datetime) -> HealthCounts:
        return self.store.health.get(seller_id, no_counts())

    async def delivery_counts(
        self, seller_id: str, *, as_of: datetime, since: datetime
    ) -> DeliveryCounts:
        return self.store.delivery.get(seller_id, DeliveryCounts.none())

    async def amazon_health(self, seller_id: str) -> list[Any]:
        rows = sorted(
            (r for r in self.t.amazon.values() if r["seller_id"] == seller_id),
            key=lambda r: r["marketplace_id"],
        )
        return [_row({**r, "metrics": json.loads(r["metrics"])}) for r in rows]

    async def health_next_change(
        self, seller_id: str, *, as_of: datetime, since: datetime
    ) -> datetime | None:
        return self.store.health_changes.get(seller_id)

    async def sellers_with_events_since(self, moment: datetime) -> list[str]:
        return sorted({e["seller_id"] for e in self.t.events if e["recorded_at"] >= moment})

    async def sellers(self) -> list[str]:
        sellers = {o["seller_id"] for o in self.t.orders.values()}
        sellers |= {f["seller_id"] for f in self.t.fulfillment.values()}
        sellers |= {c["seller_id"] for c in self.t.cases.values()}
        return sorted(sellers | set(self.store.health))

    async def latest_event_id(self) -> int:
        return max((e["id"] for e in self.t.events), default=0)

    async def sellers_with_events(self, after_id: int, upto_id: int) -> list[str]:
        return sorted({e["seller_id"] for e in self.t.events if after_id < e["id"] <= upto_id})

    def _of(self, rows: Iterable[dict[str, Any]], seller_id: str | None) -> list[Any]:
        return [_row(r) for r in rows if seller_id in (None, r["seller_id"])]

    async def order(self, amazon_order_id: str, seller_id: str | None = None) -> Any | None:
        found = self._of([o for o in [self.t.orders.get(amazon_order_id)] if o], seller_id)
        return found[0] if found else None

    async def fulfillment_of(
        self, amazon_order_id: str, seller_id: str | None = None
    ) -> Any | None:
        row = self.t.fulfillment.get(amazon_order_id)
        found = self._of([row] if row else [], seller_id)
        return found[0] if found else None

    async def events_of(self, subject: str, seller_id: str | None = None) -> list[Any]:
        return self._of((e for e in self.t.events if e["subject"] == subject), seller_id)

    async def cases_of(self, amazon_order_id: str, seller_id: str | None = None) -> list[Any]:
        cases = self.t.cases.values()
        return self._of((c for c in cases if c["amazon_order_id"] == amazon_order_id), seller_id)

    async def shipments_of(self, amazon_order_id: str, seller_id: str | None = None) -> list[Any]:
        rows = self.t.shipments.values()
        return self._of((s for s in rows if s["amazon_order_id"] == amazon_order_id), seller_id)

    async def dead_letters_of(self, subject: str) -> list[Any]:
        return [_row(d) for d in self.t.dead_letters if d["subject"] == subject]

    async def outbox_backlog(self) -> int:
        return self.t.outbox_unsent


class FakeAlerts:
    def __init__(self, tables: Tables, store: Store) -> None:
        self.t, self.store = tables, store

    async def active(self, seller_id: str) -> dict[tuple[str, str], Alert]:
        return {
            (a["metric"], a["scope"]): Alert(**a)
            for a in self.t.alerts
            if a["seller_id"] == seller_id and a["state"] == "active"
        }

    async def add(self, values: dict[str, Any]) -> Alert:
        if self.store.race_on_add:
            raise AlertRaced(values["seller_id"], values["metric"], values["scope"])
        row = {**values, "id": len(self.t.alerts) + 1, "cleared_at": None}
        self.t.alerts.append(row)
        return Alert(**row)

    async def clear(self, alert_id: int, *, state: str, at: datetime) -> Alert:
        row = next(a for a in self.t.alerts if a["id"] == alert_id)
        row.update(state=state, cleared_at=at)
        return Alert(**row)

    async def page(
        self, *, seller_id: str | None, state: str | None, before_id: int | None, limit: int
    ) -> list[Alert]:
        rows = [
            a
            for a in sorted(self.t.alerts, key=lambda a: -a["id"])
            if seller_id in (None, a["seller_id"])
            and state in (None, a["state"])
            and (before_id is None or a["id"] < before_id)
        ]
        return [Alert(**a) for a in rows[:limit]]


class FakeUnitOfWork(UnitOfWork):
    """A transaction on a copy of the store's tables, written back on commit."""

    def __init__(self, store: Store, *, topic: str | None = "analytics.v1") -> None:
        super().__init__(topic=topic)
        self.store = store
        self.commits = 0
        self._bind(store.tables)

    def _bind(self, tables: Tables) -> None:
        self.tables = tables
        self.read_models = FakeReadModels(tables, self.store)
        self.reads = FakeReads(tables, self.store)
        self.alerts = FakeAlerts(tables, self.store)

    async def _begin(self) -> None:
        self._bind(copy.deepcopy(self.store.tables))

    async def _write(self, queued: Sequence[Queued]) -> None:
        self.store.published += queued
        self.tables.outbox_unsent += sum(len(q.events) for q in queued)

    async def _commit(self) -> None:
        self.store.tables = self.tables
        self.commits += 1
        self._bind(copy.deepcopy(self.tables))

    async def _rollback(self) -> None:
        self._bind(copy.deepcopy(self.store.tables))

    @contextlib.asynccontextmanager
    async def _undoable(self, *, alone: bool) -> AsyncIterator[None]:
        saved = copy.deepcopy(self.tables)
        try:
            yield
        except Exception:
            self._bind(saved)
            raise


class FakeIngest:
    """Ingest's view of one order, and the Amazon connections of each seller (``connected``;
    ``connections_down`` answers ``Unreachable`` as ingest down would)."""

    def __init__(
        self,
        view: IngestView | Unreachable | None = None,
        connected: dict[str, list[AmazonConnection]] | None = None,
    ) -> None:
        self.answer = view or IngestView(order=None, quarantine=[])
        self.connected = connected or {}
        self.connections_down = isinstance(view, Unreachable)
        self.asked: list[tuple[str, str | None]] = []
        self.asked_connections: list[str] = []

    async def view(
        self, amazon_order_id: str, *, seller: str | None = None
    ) -> IngestView | Unreachable:
        self.asked.append((amazon_order_id, seller))
        return self.answer

    async def connections(self, *, seller: str) -> list[AmazonConnection] | Unreachable:
        self.asked_connections.append(seller)
        if self.connections_down:
            return Unreachable("down")
        return list(self.connected.get(seller, []))


class FakeLag:
    def __init__(self, lags: dict[str, list[PartitionLag]] | None = None) -> None:
        self.lags = lags or {}
        self.fail = False

    async def lag(self, groups: list[str]) -> dict[str, list[PartitionLag]]:
        if self.fail:
            raise ConnectionError("kafka down")
        return {g: self.lags.get(g, []) for g in groups}
