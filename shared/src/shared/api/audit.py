"""The audit trail over REST (``GET /v1/audit``) and the middleware that opens each entry.

``AuditMiddleware`` opens a ``shared.audit.Change`` for every POST, PATCH, PUT and DELETE; the
``before_commit`` hook of ``shared.audit`` writes it in the request's transaction. Every
service gets both from ``create_app``; what a service adds is its ``audit_log`` table (a
migration calling ``shared.db.migrations.create_audit_log``) and, where a handler knows more
than the route says, a ``shared.audit.note``. See docs/audit.md and
docs/adr/0050-audit-trail.md.

The list is tenant-scoped like every other read (``VisibleSeller``): a seller key sees its own
seller's entries, an ops or system key every entry (or one seller's, named in ``X-Seller-Id``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, FastAPI, Query, Request
from pydantic import BaseModel
from sqlalchemy import Table, select
from starlette.middleware import Middleware
from starlette.types import ASGIApp, Receive, Scope, Send

from shared import audit, inputs
from shared.api.auth import VisibleSeller
from shared.api.pagination import Before, Cursor, Limit, Page, encode_cursor, read_cursor
from shared.api.problems import Problem

ResourceType = Annotated[
    str | None,
    Query(pattern=r"^[a-z][a-z0-9_]*$", max_length=64, description="e.g. order, claim, shipment"),
]
ResourceId = Annotated[
    inputs.OrderIdLookup | None,
    Query(description="the id of the resource changed (an order id, a claim id, ...)"),
]


def install_audit(app: FastAPI) -> None:
    """Call after ``install_idempotency``: the middleware is then the innermost, so the
    idempotency key's own transactions (claim, completion) never carry an entry."""
    audit.install()
    app.user_middleware.append(Middleware(AuditMiddleware))
    app.include_router(router)


class AuditMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        resources = getattr(scope["app"].state, "resources", None)
        if scope["type"] != "http" or scope.get("method") not in audit.METHODS or not resources:
            await self.app(scope, receive, send)
            return
        scope.setdefault("state", {})
        change = audit.Change(
            scope=scope, engine=resources.engine.sync_engine, table=resources.tables.audit_log
        )
        token = audit.begin(change)
        try:
            await self.app(scope, receive, send)
        finally:
            audit.end(token)


router = APIRouter(prefix="/v1/audit", tags=["audit"])


class AuditEntryOut(BaseModel):
    id: int
    at: datetime
    key_name: str
    role: str
    seller_id: str | None
    operation: str
    method: str
    path: str
    resource_type: str | None
    resource_id: str | None
    status_before: str | None
    status_after: str | None
    outcome: str
    status_code: int | None
    correlation_id: str | None


@router.get(
    "",
    response_model=Page[AuditEntryOut],
    summary="Changes made through this service's API, newest first",
    description=(
        "One entry per request that committed a change: who (key name, role, seller), what "
        "(operation, resource, status before and after), when, the correlation id and the "
        "outcome. A seller key sees its own seller's entries; ops and system keys every "
        "entry, or one seller's with X-Seller-Id. See docs/audit.md."
    ),
)
async def list_audit(
    request: Request,
    seller: VisibleSeller,
    limit: Limit = 50,
    cursor: Cursor = None,
    resource_type: ResourceType = None,
    resource_id: ResourceId = None,
    since: Annotated[
        inputs.QueryMoment | None, Query(description="entries at or after this moment")
    ] = None,
    until: Annotated[
        inputs.QueryMoment | None, Query(description="entries before this moment")
    ] = None,
) -> Page[AuditEntryOut]:
    if since is not None and until is not None and until <= since:
        raise Problem(
            422,
            "Invalid query",
            "'until' must be after 'since'.",
            errors=[{"field": "query.until", "message": "must be after since"}],
        )
    position = read_cursor(cursor, Before)
    table: Table = request.app.state.resources.tables.audit_log
    c = table.c
    stmt = select(table).order_by(c.id.desc()).limit(limit + 1)
    filters: list[Any] = [
        c.seller_id == seller if seller is not None else None,
        c.id < position.before if position else None,
        c.resource_type == resource_type if resource_type else None,
        c.resource_id == resource_id if resource_id else None,
        c.at >= since if since else None,
        c.at < until if until else None,
    ]
    stmt = stmt.where(*(f for f in filters if f is not None))
    async with request.app.state.resources.sessions() as session:
        rows = (await session.execute(stmt)).all()
    items = [AuditEntryOut.model_validate(row._asdict()) for row in rows[:limit]]
    more = len(rows) > limit
    return Page(items=items, next_cursor=encode_cursor({"before": items[-1].id}) if more else None)
