"""The audit trail: every change made through a service's API, who made it and how it ended.

One row of ``audit_log`` per API request that committed a change in the service's database:
who (the key's name, its role, the seller it acted for), what (the operation, the resource's
type and id, its status before and after where it has one), when, the request's correlation
id and the outcome. The row is inserted by a ``before_commit`` hook in the transaction that
commits the request's work, so an entry exists if and only if the change committed; a request
that committed nothing (a refusal, a failure) leaves none. The table is append-only, enforced
by a trigger that refuses ``UPDATE``, ``DELETE`` and ``TRUNCATE``.

Pieces: ``AuditMiddleware`` (``shared.api.audit``) opens a ``Change`` for each POST, PATCH, PUT
and DELETE; the hook here writes it at the request's first commit on the service's own
database; a handler that knows more (the id of what it created, a status before and after, an
outcome other than ``ok``) says so with ``note``, before it commits. ``actor`` gives the
principal of the change under way, which ``shared.events.registry.build_event`` puts on every
event the change causes. Events from Kafka handlers and Amazon polling have none. The rules
and why: docs/adr/0050-audit-trail.md.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator, MutableMapping
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    DateTime,
    Index,
    Integer,
    MetaData,
    Table,
    Text,
    event,
    func,
    insert,
)
from sqlalchemy.orm import Session

from shared.logs import correlation_id

METHODS = frozenset({"POST", "PATCH", "PUT", "DELETE"})
OK = "ok"

# Append-only in the database: no path of the application (nor a hand-typed statement of a
# role that is not the table's owner disabling the trigger) changes or removes an entry.
APPEND_ONLY_FUNCTION = """CREATE OR REPLACE FUNCTION orderflow_audit_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$ BEGIN
RAISE EXCEPTION 'audit_log is append-only: % refused', TG_OP
USING ERRCODE = 'insufficient_privilege'; END $$"""
APPEND_ONLY_TRIGGERS = (
    """CREATE OR REPLACE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log
FOR EACH ROW EXECUTE FUNCTION orderflow_audit_append_only()""",
    """CREATE OR REPLACE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
FOR EACH STATEMENT EXECUTE FUNCTION orderflow_audit_append_only()""",
)


def define_audit_log(metadata: MetaData) -> Table:
    table = Table(
        "audit_log",
        metadata,
        Column("id", BigInteger, primary_key=True, autoincrement=True),
        Column("at", DateTime(timezone=True), nullable=False, server_default=func.now()),
        Column("key_name", Text, nullable=False),
        Column("role", Text, nullable=False),
        Column("seller_id", Text),
        Column("operation", Text, nullable=False),
        Column("method", Text, nullable=False),
        Column("path", Text, nullable=False),
        Column("resource_type", Text),
        Column("resource_id", Text),
        Column("status_before", Text),
        Column("status_after", Text),
        Column("outcome", Text, nullable=False),
        Column("status_code", Integer),
        Column("correlation_id", Text),
        # A seller's trail, newest first; one resource's entries; a time window (BRIN: ids and
        # times grow together, docs/adr/0014-brin-for-age-based-deletes.md).
        Index("ix_audit_log_seller", "seller_id", "id"),
        Index("ix_audit_log_resource", "resource_id", "id"),
        Index("ix_audit_log_at_brin", "at", postgresql_using="brin"),
    )
    event.listen(table, "after_create", _create_append_only_trigger)
    return table


def _create_append_only_trigger(target: Table, connection: Connection, **_: Any) -> None:
    connection.exec_driver_sql(APPEND_ONLY_FUNCTION)
    for trigger in APPEND_ONLY_TRIGGERS:
        connection.exec_driver_sql(trigger)


@dataclass(frozen=True)
class Actor:
    """Who made a change: the API key's name, its role, and the seller a seller key is bound to."""

    key_name: str
    role: str
    seller_id: str | None = None


@dataclass
class Change:
    """One state-changing request's audit entry in the making. ``state`` is the request's
    state (where authentication leaves the principal), ``scope`` its ASGI scope (where routing
    leaves the route and its path parameters)."""

    scope: MutableMapping[str, Any]
    engine: Any  # the service's sync engine: only a transaction on it carries the entry
    table: Table
    notes: dict[str, Any] = field(default_factory=dict)
    written: bool = False
    pending: Session | None = None  # the session whose commit carries the entry
    active: bool = True
    _actor: Actor | None = None  # once known: every event of a batch asks

    def actor(self) -> Actor | None:
        """The principal authentication left in the request's state (None before it ran)."""
        if self._actor is None:
            principal = self.scope.get("state", {}).get("principal")
            if principal is not None:
                self._actor = Actor(principal.key_name, principal.role, principal.seller_id)
        return self._actor


_current: ContextVar[Change | None] = ContextVar("audit_change", default=None)


def begin(change: Change) -> object:
    """Make ``change`` the current request's; returns the token ``end`` takes."""
    return _current.set(change)


def end(token: object) -> None:
    change = _current.get()
    if change is not None:
        change.active = False
    _current.reset(token)  # type: ignore[arg-type]


@contextlib.contextmanager
def outside() -> Iterator[None]:
    """A transaction of the request's plumbing, not of its work (the idempotency key's claim):
    it carries no entry and its events name no actor."""
    token = _current.set(None)
    try:
        yield
    finally:
        _current.reset(token)


def note(
    *,
    resource_type: str | None = None,
    resource_id: str | None = None,
    before: str | None = None,
    after: str | None = None,
    outcome: str | None = None,
    status_code: int | None = None,
) -> None:
    """What the handler knows of the change under way, said before it commits; a no-op outside
    an API request (a Kafka handler, a job), so the service layer may call it anywhere."""
    change = _current.get()
    if change is None:
        return
    given = {
        "resource_type": resource_type,
        "resource_id": resource_id,
        "status_before": before,
        "status_after": after,
        "outcome": outcome,
        "status_code": status_code,
    }
    change.notes.update({k: v for k, v in given.items() if v is not None})


def actor() -> Actor | None:
    """The principal of the API change under way (also in a job it started); None elsewhere."""
    change = _current.get()
    return None if change is None else change.actor()


def install() -> None:
    """Listen on every session, once per process."""
    for name, hook in (
        ("before_commit", _record),
        ("after_commit", _recorded),
        ("after_rollback", _not_recorded),
    ):
        if not event.contains(Session, name, hook):
            event.listen(Session, name, hook)


def _record(session: Session) -> None:
    """``before_commit``: the first transaction of a state-changing request to commit on the
    service's database carries the request's entry."""
    change = _current.get()
    if change is None or not change.active or change.written or change.pending is not None:
        return
    if session.bind is not change.engine:
        return
    row = entry(change)
    if row is None:
        return
    session.execute(insert(change.table).values(**row))
    change.pending = session


def _recorded(session: Session) -> None:
    change = _current.get()
    if change is not None and change.pending is session:
        change.written, change.pending = True, None


def _not_recorded(session: Session) -> None:
    """The transaction that carried the entry rolled back (its commit failed): the next one to
    commit carries it."""
    change = _current.get()
    if change is not None and change.pending is session:
        change.pending = None


def entry(change: Change) -> dict[str, Any] | None:
    """The row for ``change``; None for a request without a principal (it changed nothing)."""
    who = change.actor()
    route = change.scope.get("route")
    if who is None or route is None:
        return None
    params: dict[str, Any] = change.scope.get("path_params", {})
    template = str(getattr(route, "path_format", None) or getattr(route, "path", ""))
    kind, ident = resource_of(template, params)
    row: dict[str, Any] = {
        "key_name": who.key_name,
        "role": who.role,
        "seller_id": who.seller_id or _named_seller(change.scope, who),
        "operation": getattr(route, "name", None) or template,
        "method": change.scope.get("method", ""),
        "path": template,
        "resource_type": kind,
        "resource_id": ident,
        "outcome": OK,
        "status_code": getattr(route, "status_code", None) or 200,
        "correlation_id": correlation_id.get(),
    }
    row.update(change.notes)
    return row


def _named_seller(scope: MutableMapping[str, Any], who: Actor) -> str | None:
    """The seller a system key acted for (``X-Seller-Id``, checked by ``acting_seller``)."""
    if who.role != "system":
        return None
    for name, value in scope.get("headers", []):
        if name == b"x-seller-id":
            return str(value.decode("latin-1")) or None
    return None


_PARAM = re.compile(r"\{(\w+)\}")


def resource_of(template: str, params: dict[str, Any]) -> tuple[str | None, str | None]:
    """The resource a route acts on by default: its last path parameter (``{claim_id}`` is a
    ``claim``, ``{amazon_order_id}`` an ``order``); for a route without one (a creation), the
    last segment of its path, the handler noting the new id."""
    names = _PARAM.findall(template)
    if names:
        name = names[-1]
        kind = name.removesuffix("_id").removeprefix("amazon_")
        value = params.get(name)
        return kind, None if value is None else str(value)
    segments = [s for s in template.split("/") if s and not s.startswith("v1")]
    return (segments[-1].replace("-", "_") if segments else None), None
