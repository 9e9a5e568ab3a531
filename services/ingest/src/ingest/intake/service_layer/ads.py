"""Ad performance intake: daily sponsored-products rows, published on ``ads.v1``.

A row is identified by ``<seller>:<date>:<campaign>:<asin or sku>``. A new row is published as
version 1; a restated row (Amazon restates conversions for up to 28 days) as the previous
version + 1; a row sent again unchanged publishes nothing. Each row's store and event share the
caller's transaction (the outbox).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ingest.intake.adapters import outbox
from ingest.intake.domain.events import AdRowReported
from ingest.intake.service_layer.unit_of_work import IntakeUnitOfWork
from shared.events.ads import AdPerformance


@dataclass(frozen=True)
class AdRowOutcome:
    subject: str
    result: str  # created, restated or unchanged
    version: int


def subject_of(row: AdPerformance) -> str:
    return f"{row.seller_id}:{row.date.isoformat()}:{row.campaign_id}:{row.asin or row.seller_sku}"


async def report_rows(
    uow: IntakeUnitOfWork,
    *,
    rows: Sequence[AdPerformance],
    topic: str,
    correlation_id: str | None = None,
) -> list[AdRowOutcome]:
    return [await _report(uow, row, topic=topic, correlation_id=correlation_id) for row in rows]


async def _report(
    uow: IntakeUnitOfWork, row: AdPerformance, *, topic: str, correlation_id: str | None
) -> AdRowOutcome:
    subject = subject_of(row)
    stored = row.model_dump(mode="json")
    known = await uow.ad_rows.lock(subject)
    if known is not None and known[1] == stored:
        return AdRowOutcome(subject, "unchanged", known[0])
    version = (known[0] if known else 0) + 1
    if known is None:
        values = {
            "seller_id": row.seller_id,
            "report_date": row.date,
            "campaign_id": row.campaign_id,
        }
        await uow.ad_rows.add(subject=subject, row=stored, values=values)
    else:
        await uow.ad_rows.restate(subject=subject, version=version, row=stored)
    event = AdRowReported(row=row, subject=subject, version=version, correlation_id=correlation_id)
    uow.publish([outbox.ad_event(event)], topic=topic)
    return AdRowOutcome(subject, "created" if known is None else "restated", version)
