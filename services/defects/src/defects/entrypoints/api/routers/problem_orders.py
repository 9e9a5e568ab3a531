"""``/v1/problem-orders``: every order with an open case, most urgent first.

Open cases: claims not yet decided (or under appeal) and negative feedback not removed.
Order: earliest ``due_at`` first (orders with nothing due after), then orders with a case
counting toward the ODR, then the oldest case first.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter

from defects.domain import odr
from defects.domain.model import Claim, Feedback, OrderFacts
from defects.entrypoints.api.deps import Now, UoW
from defects.entrypoints.api.presenters import order_link
from defects.entrypoints.api.schemas import CaseSummaryOut, ProblemOrderOut
from defects.service_layer import queries
from shared import inputs
from shared.api.auth import VisibleSeller
from shared.api.pagination import Cursor, Limit, Page, Position, encode_cursor, read_cursor

router = APIRouter(prefix="/v1/problem-orders", tags=["problem orders"])


class Offset(Position):
    """How many ranked orders the pages before held."""

    offset: inputs.Count32


@router.get("", response_model=Page[ProblemOrderOut], summary="Orders with open cases")
async def problem_orders(
    seller: VisibleSeller, uow: UoW, now: Now, limit: Limit = 50, cursor: Cursor = None
) -> Page[ProblemOrderOut]:
    position = read_cursor(cursor, Offset)
    offset = position.offset if position else 0
    cases = await queries.open_cases(uow, seller_id=seller)
    orders = rank(_group(cases.claims, cases.feedback, cases.facts, now))
    page = orders[offset : offset + limit]
    more = len(orders) > offset + limit
    return Page(items=page, next_cursor=encode_cursor({"offset": offset + limit}) if more else None)


def _group(
    claims: list[Claim],
    feedback: list[Feedback],
    facts: dict[tuple[str, str], OrderFacts],
    now: datetime,
) -> list[ProblemOrderOut]:
    cases: dict[tuple[str, str], list[tuple[datetime | None, CaseSummaryOut]]] = {}
    for c in claims:
        key = (c.amazon_order_id, c.seller_id)
        verdict = odr.claim_verdict(c, facts[key])
        summary = CaseSummaryOut(
            case_type=c.kind.value,
            id=str(c.id),
            status=c.status,
            reason=c.reason,
            due_at=c.due_at,
            overdue=c.is_overdue(now),
            counts_toward_odr=verdict.counts,
            odr_rule=verdict.rule,
        )
        cases.setdefault(key, []).append((c.filed_at, summary))
    for f in feedback:
        verdict = odr.feedback_verdict(f)
        summary = CaseSummaryOut(
            case_type="feedback",
            id=str(f.id),
            status=f.status,
            rating=f.rating,
            due_at=None,
            overdue=False,
            counts_toward_odr=verdict.counts,
            odr_rule=verdict.rule,
        )
        cases.setdefault((f.amazon_order_id, f.seller_id), []).append((f.received_at, summary))
    return [_order(key, entries, facts[key]) for key, entries in cases.items()]


def _order(
    key: tuple[str, str], entries: list[tuple[Any, CaseSummaryOut]], facts: OrderFacts
) -> ProblemOrderOut:
    entries.sort(key=lambda e: (_due_key(e[1].due_at), not e[1].counts_toward_odr, e[0]))
    dues = [s.due_at for _, s in entries if s.due_at is not None]
    return ProblemOrderOut(
        amazon_order_id=key[0],
        seller_id=key[1],
        order=order_link(facts),
        next_due_at=min(dues) if dues else None,
        overdue=any(s.overdue for _, s in entries),
        counts_toward_odr=any(s.counts_toward_odr for _, s in entries),
        cases=[s for _, s in entries],
    )


def _due_key(due: datetime | None) -> tuple[int, float]:
    return (0, due.timestamp()) if due is not None else (1, 0.0)


def rank(orders: list[ProblemOrderOut]) -> list[ProblemOrderOut]:
    """Earliest due first, then ODR-counting orders, then by order id (stable pages)."""
    return sorted(
        orders,
        key=lambda o: (_due_key(o.next_due_at), not o.counts_toward_odr, o.amazon_order_id),
    )
