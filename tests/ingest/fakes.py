"""In-memory units of work for ingest's two contexts: the same repository protocols as the SQL
ones, on a ``FakeDatabase`` that several units of work share (as the real ones share
PostgreSQL). Nothing is kept that was not committed: a rollback, or an ``attempt`` that raises,
restores the state as it was. Published events are kept on the database, in commit order."""

from __future__ import annotations

import contextlib
import copy
import itertools
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import orjson

from ingest.amazon.service_layer.unit_of_work import GatewayUnitOfWork
from ingest.intake.domain.errors import StorageRefused
from ingest.intake.domain.model import KnownOrder
from ingest.intake.service_layer.unit_of_work import IntakeUnitOfWork
from shared.messaging.envelope import CloudEvent
from shared.unit_of_work import Queued


def _row(**values: Any) -> SimpleNamespace:
    return SimpleNamespace(**values)


def _jsonb(row: dict[str, Any]) -> dict[str, Any]:
    """An orders row as PostgreSQL keeps it: its snapshot's JSON text as JSONB (read back)."""
    return row | {"snapshot": orjson.loads(row["snapshot"])}


@dataclass
class Tables:
    """What a transaction can change (copied whole for a rollback: fine at unit-test sizes)."""

    orders: dict[str, dict[str, Any]] = field(default_factory=dict)
    quarantine: list[dict[str, Any]] = field(default_factory=list)
    uploads: dict[uuid.UUID, dict[str, Any]] = field(default_factory=dict)
    ad_rows: dict[str, dict[str, Any]] = field(default_factory=dict)
    connections: dict[uuid.UUID, dict[str, Any]] = field(default_factory=dict)
    notifications: dict[str, dict[str, Any]] = field(default_factory=dict)
    confirmations: dict[uuid.UUID, dict[str, Any]] = field(default_factory=dict)
    submissions: dict[uuid.UUID, dict[str, Any]] = field(default_factory=dict)


@dataclass
class FakeDatabase:
    tables: Tables = field(default_factory=Tables)
    # What the outbox holds, in commit order: each event as a consumer decodes it from the
    # bytes written (``written``: the topic and those bytes).
    published: list[tuple[str, CloudEvent]] = field(default_factory=list)
    written: list[tuple[str, bytes]] = field(default_factory=list)
    commits: int = 0
    refuse: set[str] = field(default_factory=set)  # order ids whose rows "PostgreSQL" refuses
    ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def events(self, topic: str | None = None) -> list[CloudEvent]:
        return [e for t, e in self.published if topic is None or t == topic]


class _Repo:
    def __init__(self, uow: FakeIntakeUnitOfWork) -> None:
        self._uow = uow

    @property
    def t(self) -> Tables:
        return self._uow.tables


class FakeOrders(_Repo):
    async def lock_many(self, ids: list[str]) -> dict[str, tuple[KnownOrder, dict[str, Any]]]:
        found = (self.t.orders[i] for i in ids if i in self.t.orders)
        return {
            o["amazon_order_id"]: (
                KnownOrder(o["seller_id"], o["last_update_date"], o["version"], o["item_count"]),
                o["snapshot"],
            )
            for o in found
        }

    def _check(self, ids: Sequence[str]) -> None:
        refused = self._uow.db.refuse.intersection(ids)
        if refused:
            raise StorageRefused("CheckViolationError")

    async def insert_new(self, rows: list[dict[str, Any]]) -> set[str]:
        self._check([r["amazon_order_id"] for r in rows])
        new = [r for r in rows if r["amazon_order_id"] not in self.t.orders]
        for r in new:
            self.t.orders[r["amazon_order_id"]] = {**_jsonb(r), "pii_removed_at": None}
        return {r["amazon_order_id"] for r in new}

    async def update_many(self, rows: dict[str, dict[str, Any]]) -> None:
        self._check(list(rows))
        for order_id, row in rows.items():
            self.t.orders[order_id].update(_jsonb(row))

    async def get(self, amazon_order_id: str, seller_id: str | None) -> Any | None:
        o = self.t.orders.get(amazon_order_id)
        if o is None or (seller_id is not None and o["seller_id"] != seller_id):
            return None
        return _row(**o)

    async def events_of(self, amazon_order_id: str) -> list[Any]:
        return [e for e in self._uow.db.events() if e.subject == amazon_order_id]

    async def submissions_of(self, amazon_order_id: str) -> list[Any]:
        return []  # the fake gateway keeps confirmations only (confirmations_of)

    async def confirmations_of(self, amazon_order_id: str) -> list[Any]:
        rows = self.t.confirmations.values()
        return [_row(**c) for c in rows if c["amazon_order_id"] == amazon_order_id]


class FakeQuarantine(_Repo):
    async def add(self, **values: Any) -> int:
        row_id = next(self._uow.db.ids)
        self.t.quarantine.append({"id": row_id, **values})
        return row_id

    async def page(
        self,
        *,
        seller_id: str | None,
        amazon_order_id: str | None,
        source: str | None,
        before_id: int | None,
        limit: int,
    ) -> list[Any]:
        rows = [
            _row(**q)
            for q in reversed(self.t.quarantine)
            if (seller_id is None or q["seller_id"] == seller_id)
            and (amazon_order_id is None or q["amazon_order_id"] == amazon_order_id)
            and (source is None or q["source"] == source)
            and (before_id is None or q["id"] < before_id)
        ]
        return rows[:limit]


class FakeUploads(_Repo):
    async def find_same(self, seller_id: str, sha256: str) -> Any | None:
        for u in self.t.uploads.values():
            if u["seller_id"] == seller_id and u["sha256"] == sha256:
                return _row(**u)
        return None

    async def add(self, **values: Any) -> bool:
        if await self.find_same(values["seller_id"], values["sha256"]) is not None:
            return False
        self.t.uploads[values["id"]] = {
            "status": "queued",
            "orders_done": 0,
            "rows_processed": 0,
            "rows_accepted": 0,
            "rows_rejected": 0,
            "errors": [],
            "finished_at": None,
            **values,
        }
        return True

    async def get(
        self, upload_id: uuid.UUID, *, seller_id: str | None, lock: bool = False
    ) -> Any | None:
        u = self.t.uploads.get(upload_id)
        if u is None or (seller_id is not None and u["seller_id"] != seller_id):
            return None
        return _row(**u)

    async def unfinished(self) -> list[uuid.UUID]:
        return [i for i, u in self.t.uploads.items() if u["status"] in ("queued", "processing")]

    async def progress(self, upload_id: uuid.UUID, **values: Any) -> None:
        self.t.uploads[upload_id].update(values)


class FakeAdRows(_Repo):
    async def lock(self, subject: str) -> tuple[int, dict[str, Any]] | None:
        a = self.t.ad_rows.get(subject)
        return (a["version"], a["row"]) if a is not None else None

    async def add(self, *, subject: str, row: dict[str, Any], values: dict[str, Any]) -> None:
        self.t.ad_rows[subject] = {"version": 1, "row": row, **values}

    async def restate(self, *, subject: str, version: int, row: dict[str, Any]) -> None:
        self.t.ad_rows[subject].update(version=version, row=row)


class FakeIntakeUnitOfWork(IntakeUnitOfWork):
    def __init__(self, db: FakeDatabase, *, topic: str | None = "orders.v1") -> None:
        super().__init__(topic=topic)
        self.db = db
        self.tables = db.tables
        self.orders = FakeOrders(self)
        self.quarantine = FakeQuarantine(self)
        self.uploads = FakeUploads(self)
        self.ad_rows = FakeAdRows(self)

    async def _begin(self) -> None:
        self.tables = copy.deepcopy(self.db.tables)

    async def _write(self, queued: Sequence[Queued]) -> None:
        self._written = [
            (q.topic, payload)
            for q in queued
            for payload in (q.payloads or [event.to_bytes() for event in q.events])
        ]

    async def _commit(self) -> None:
        self.db.tables = self.tables
        written = getattr(self, "_written", [])
        self.db.written += written
        self.db.published += [(t, CloudEvent.from_bytes(p)) for t, p in written]
        self._written = []
        self.db.commits += 1
        self.tables = copy.deepcopy(self.db.tables)

    async def _rollback(self) -> None:
        self.tables = copy.deepcopy(self.db.tables)

    @contextlib.asynccontextmanager
    async def _undoable(self, *, alone: bool) -> AsyncIterator[None]:
        saved = copy.deepcopy(self.tables)
        try:
            yield
        except Exception:
            self.tables = saved
            raise


def _default_connection(**over: Any) -> dict[str, Any]:
    now = datetime(2026, 11, 20, 12, tzinfo=UTC)
    return {
        "id": uuid.uuid4(),
        "seller_id": "S1",
        "selling_partner_id": "A1SELLER",
        "region": "NA",
        "marketplace_ids": ["ATVPDKIKX0DER"],
        "orders_api": "v2026-01-01",
        "endpoint": "http://127.0.0.1:1",
        "lwa_token_url": None,
        "sealed_credentials": "",
        "status": "active",
        "last_updated_after": now - timedelta(days=1),
        "window_before": None,
        "page_token": None,
        "last_sync_at": None,
        "last_error": None,
        "orders_synced": 0,
        "next_sync_at": now,
        "lease_owner": None,
        "lease_until": None,
        "created_at": now,
        **over,
    }


class FakeConnections(_Repo):
    async def add(self, **values: Any) -> bool:
        for c in self.t.connections.values():
            if (c["selling_partner_id"], c["region"]) == (
                values["selling_partner_id"],
                values["region"],
            ):
                return False
        self.t.connections[values["id"]] = _default_connection(**values)
        return True

    async def get(self, connection_id: uuid.UUID, seller_id: str | None) -> Any | None:
        c = self.t.connections.get(connection_id)
        if c is None or (seller_id is not None and c["seller_id"] != seller_id):
            return None
        return _row(**c)

    async def page(
        self, *, seller_id: str | None, after: tuple[datetime, uuid.UUID] | None, limit: int
    ) -> list[Any]:
        rows = sorted(self.t.connections.values(), key=lambda c: (c["created_at"], c["id"]))
        rows = [c for c in rows if seller_id is None or c["seller_id"] == seller_id]
        if after is not None:
            rows = [c for c in rows if (c["created_at"], c["id"]) > after]
        return [_row(**c) for c in rows[:limit]]

    async def update(self, connection_id: uuid.UUID, **values: Any) -> None:
        self.t.connections[connection_id].update(values)

    async def advance(self, connection_id: uuid.UUID, changed: int, **values: Any) -> None:
        c = self.t.connections[connection_id]
        c.update(values, orders_synced=c["orders_synced"] + changed)

    async def delete(self, connection_id: uuid.UUID) -> None:
        del self.t.connections[connection_id]

    async def of_selling_partner(self, selling_partner_id: str) -> list[Any]:
        rows = self.t.connections.values()
        return [_row(**c) for c in rows if c["selling_partner_id"] == selling_partner_id]

    async def claim_due(self, owner: str, lease: timedelta) -> Any | None:
        for c in self.t.connections.values():
            if c["status"] == "active" and c["lease_owner"] is None:
                c.update(lease_owner=owner)
                return _row(**c)
        return None

    async def lock_lease(self, connection_id: uuid.UUID, owner: str) -> Any | None:
        c = self.t.connections.get(connection_id)
        return _row(**c) if c is not None and c["lease_owner"] == owner else None

    async def renew_lease(self, connection_id: uuid.UUID, owner: str, lease: timedelta) -> None:
        return None

    async def release(self, connection_id: uuid.UUID, owner: str, **values: Any) -> None:
        c = self.t.connections[connection_id]
        if c["lease_owner"] == owner:
            c.update(values, lease_owner=None, lease_until=None)


class FakeNotifications(_Repo):
    async def seen(self, notification_id: str) -> bool:
        return notification_id in self.t.notifications

    async def record(self, **values: Any) -> bool:
        if values["notification_id"] in self.t.notifications:
            return False
        self.t.notifications[values["notification_id"]] = values
        return True


class FakeConfirmations(_Repo):
    async def add(self, **values: Any) -> bool:
        for c in self.t.confirmations.values():
            if (c["shipment_id"], c["version"]) == (values["shipment_id"], values["version"]):
                return False
        now = datetime.now(UTC)
        self.t.confirmations[values["id"]] = {
            "attempts": 0,
            "sent_at": None,
            "next_attempt_at": now,
            "created_at": now,
            "updated_at": now,
            **values,
        }
        return True

    async def supersede_older(self, shipment_id: str, version: int, reason: str) -> None:
        for c in self.t.confirmations.values():
            older = c["shipment_id"] == shipment_id and c["version"] < version
            if older and c["status"] in ("pending", "failed"):
                c.update(status="skipped", last_error=reason)

    async def newest_version(self, shipment_id: str) -> int | None:
        rows = self.t.confirmations.values()
        versions = [c["version"] for c in rows if c["shipment_id"] == shipment_id]
        return max(versions, default=None)

    async def get(
        self, confirmation_id: uuid.UUID, seller_id: str | None, *, lock: bool = False
    ) -> Any | None:
        c = self.t.confirmations.get(confirmation_id)
        if c is None or (seller_id is not None and c["seller_id"] != seller_id):
            return None
        return _row(**c)

    async def page(
        self,
        *,
        seller_id: str | None,
        status: str | None,
        amazon_order_id: str | None,
        after: tuple[datetime, uuid.UUID] | None,
        limit: int,
    ) -> list[Any]:
        rows = [
            c
            for c in self.t.confirmations.values()
            if (seller_id is None or c["seller_id"] == seller_id)
            and (status is None or c["status"] == status)
            and (amazon_order_id is None or c["amazon_order_id"] == amazon_order_id)
        ]
        return [_row(**c) for c in rows[:limit]]

    async def of_order(self, amazon_order_id: str) -> list[Any]:
        return await self.page(
            seller_id=None, status=None, amazon_order_id=amazon_order_id, after=None, limit=100
        )

    async def claim_due(self, lease: timedelta, limit: int) -> list[Any]:
        due = [c for c in self.t.confirmations.values() if c["status"] == "pending"][:limit]
        for c in due:
            c["attempts"] += 1
        return [_row(**c) for c in due]

    async def finish(self, confirmation_id: uuid.UUID, **values: Any) -> bool:
        c = self.t.confirmations[confirmation_id]
        if c["status"] != "pending":
            return False
        c.update(values)
        return True

    async def update(self, confirmation_id: uuid.UUID, **values: Any) -> None:
        self.t.confirmations[confirmation_id].update(values)

    async def active_connection(self, seller_id: str, marketplace_id: str | None) -> Any | None:
        rows = [
            c
            for c in self.t.connections.values()
            if c["seller_id"] == seller_id and c["status"] == "active"
        ]
        for c in rows:
            if marketplace_id and marketplace_id in c["marketplace_ids"]:
                return _row(**c)
        return _row(**rows[0]) if rows else None

    async def channel_of_order(self, amazon_order_id: str) -> str | None:
        o = self.t.orders.get(amazon_order_id)
        channel: str | None = o["snapshot"].get("fulfillment_channel") if o else None
        return channel


class FakeSubmissions(FakeConfirmations):
    """Cancellations and adjustments (feed messages); sending them is tested on PostgreSQL."""

    def __init__(self, uow: FakeIntakeUnitOfWork, kind: str | None = None) -> None:
        super().__init__(uow)
        self.kind = kind

    def _rows(self) -> list[dict[str, Any]]:
        rows = self.t.submissions.values()
        return [r for r in rows if self.kind is None or r["kind"] == self.kind]

    async def add_referenced(self, **values: Any) -> bool:
        key = (values["kind"], values["seller_id"], values["reference"])
        if any((r["kind"], r["seller_id"], r["reference"]) == key for r in self._rows()):
            return False
        now = datetime.now(UTC)
        self.t.submissions[values["id"]] = {
            "attempts": 0,
            "result_code": None,
            "feed_id": None,
            "message_id": None,
            "submitted_at": None,
            "sent_at": None,
            "shipment_id": None,
            "next_attempt_at": now,
            "created_at": now,
            "updated_at": now,
            **values,
        }
        return True

    async def get(
        self, submission_id: uuid.UUID, seller_id: str | None, /, *, lock: bool = False
    ) -> Any | None:
        r = self.t.submissions.get(submission_id)
        if r is None or (seller_id is not None and r["seller_id"] != seller_id):
            return None
        return _row(**r)

    async def page(
        self,
        *,
        seller_id: str | None,
        status: str | None,
        amazon_order_id: str | None,
        after: tuple[datetime, uuid.UUID] | None,
        limit: int,
    ) -> list[Any]:
        rows = [
            r
            for r in self._rows()
            if (seller_id is None or r["seller_id"] == seller_id)
            and (status is None or r["status"] == status)
            and (amazon_order_id is None or r["amazon_order_id"] == amazon_order_id)
        ]
        return [_row(**r) for r in rows[:limit]]

    async def update(self, submission_id: uuid.UUID, /, **values: Any) -> None:
        self.t.submissions[submission_id].update(values)

    async def order_snapshot(self, amazon_order_id: str) -> dict[str, Any]:
        o = self.t.orders.get(amazon_order_id)
        return dict(o["snapshot"]) if o else {}


class FakeGatewayUnitOfWork(FakeIntakeUnitOfWork, GatewayUnitOfWork):
    def __init__(self, db: FakeDatabase, *, topic: str | None = "orders.v1") -> None:
        super().__init__(db, topic=topic)
        self.connections = FakeConnections(self)
        self.notifications = FakeNotifications(self)
        self.confirmations = FakeConfirmations(self)
        self.submissions = FakeSubmissions(self)

    def submissions_of(self, kind: str | None) -> FakeSubmissions:
        return FakeSubmissions(self, kind)
