"""Ad performance intake: daily sponsored-products rows, published on ``ads.v1``.

A row is identified by ``<seller>:<date>:<campaign>:<asin or sku>``. A new row is published as
version 1; a restated row (Amazon restates conversions for up to 28 days) as the previous
version + 1; a row sent again unchanged publishes nothing. Each row's store and event share the
caller's transaction (the outbox).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert

from ingest.adapters import orm
from ingest.service_layer.unit_of_work import UnitOfWork
from shared import topics
from shared.events.ads import AD_PERFORMANCE_REPORTED, AdPerformance
from shared.events.registry import build_event

SOURCE = "ingest"


@dataclass(frozen=True)
class AdRowOutcome:
    subject: str
    result: str  # created, restated or unchanged
    version: int


def subject_of(row: AdPerformance) -> str:
    return f"{row.seller_id}:{row.date.isoformat()}:{row.campaign_id}:{row.asin or row.seller_sku}"


async def report_rows(
    uow: UnitOfWork,
    *,
    rows: Sequence[AdPerformance],
    topic: str,
    correlation_id: str | None = None,
) -> list[AdRowOutcome]:
    return [await _report(uow, row, topic=topic, correlation_id=correlation_id) for row in rows]


async def _report(
    uow: UnitOfWork, row: AdPerformance, *, topic: str, correlation_id: str | None
) -> AdRowOutcome:
    subject = subject_of(row)
    stored = row.model_dump(mode="json")
    known = await _lock(uow, subject)
    if known is not None and known.row == stored:
        return AdRowOutcome(subject, "unchanged", known.version)
    version = (known.version if known else 0) + 1
    if known is None:
        await _insert(uow, subject, row, stored)
    else:
        await uow.session.execute(
            update(orm.ad_rows)
            .where(orm.ad_rows.c.subject == subject)
            .values(version=version, row=stored, updated_at=func.now())
        )
    event = build_event(
        topic=topics.ADS,
        event_type=AD_PERFORMANCE_REPORTED,
        payload=row,
        source=SOURCE,
        subject=subject,
        seller_id=row.seller_id,
        version=version,
        correlation_id=correlation_id,
    )
    await uow.publish(topic, event)
    return AdRowOutcome(subject, "created" if known is None else "restated", version)


async def _lock(uow: UnitOfWork, subject: str) -> Any | None:
    a = orm.ad_rows.c
    stmt = select(a.version, a.row).where(a.subject == subject).with_for_update()
    return (await uow.session.execute(stmt)).first()


async def _insert(uow: UnitOfWork, subject: str, row: AdPerformance, stored: Any) -> None:
    await uow.session.execute(
        insert(orm.ad_rows).values(
            subject=subject,
            seller_id=row.seller_id,
            report_date=row.date,
            campaign_id=row.campaign_id,
            version=1,
            row=stored,
        )
    )
