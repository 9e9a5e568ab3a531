"""Amazon's seller performance report, per connected seller, on a schedule.

``request_due`` gives every active connection with no report requested in the last
``PERFORMANCE_REPORT_INTERVAL_SECONDS`` a ``requesting`` row (Amazon refreshes account health
about daily). ``check_due`` leases the open rows whose check is due and moves each on with the
Reports API (``adapters/spapi/reports.py``):

- ``requesting``: createReport for the connection's marketplaces; the row becomes ``requested``
  with Amazon's reportId (a crash before that leaves the row to be asked again after the lease);
- ``requested``: getReport; still IN_QUEUE or IN_PROGRESS: checked again after
  ``PERFORMANCE_REPORT_POLL_SECONDS``; DONE: the document is downloaded, read
  (``domain/performance_report.py``), stored on the row and announced as
  ``account_health.amazon_reported`` on orders.v1 in the same transaction (outbox); CANCELLED
  (no data) or FATAL: ``failed`` with the reason, and the next interval asks again;
- a report not done ``PERFORMANCE_REPORT_TIMEOUT_SECONDS`` after it was requested is failed.

SP-API refusals (4xx) fail the row; throttling, 5xx and network trouble (already retried by
``SpApiHttp``) leave it for the next check. The announcement's version is the row's id, which
only grows, so analytics keeps the newest report of each seller.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import ValidationError

from ingest.amazon.adapters.spapi.http import SpApiRequestError
from ingest.amazon.adapters.spapi.reports import Report, ReportsClient, ReportTransferError
from ingest.amazon.domain import performance_report
from ingest.amazon.domain.errors import SpApiUnavailable
from ingest.amazon.service_layer.connections import Vault
from ingest.amazon.service_layer.sync import SpApi, spapi_of, uow_factory_of, vault_of
from ingest.amazon.service_layer.unit_of_work import GatewayUnitOfWork as UnitOfWork
from shared import topics
from shared.events.performance import AMAZON_ACCOUNT_HEALTH_REPORTED, AmazonAccountHealth
from shared.events.registry import build_event
from shared.inputs import scrub
from shared.runtime import Resources

log = logging.getLogger(__name__)

SOURCE = "ingest"
BATCH = 20


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class PerformanceReporter:
    new_uow: Callable[[], UnitOfWork]
    spapi: SpApi
    vault: Vault
    clock: Callable[[], datetime] = _utc_now

    @property
    def _every(self) -> timedelta:
        return timedelta(seconds=self.spapi.settings.performance_report_interval_seconds)

    @property
    def _poll(self) -> timedelta:
        return timedelta(seconds=self.spapi.settings.performance_report_poll_seconds)

    @property
    def _timeout(self) -> timedelta:
        return timedelta(seconds=self.spapi.settings.performance_report_timeout_seconds)

    async def request_due(self) -> int:
        """Open a report for each connection due one; how many."""
        async with self.new_uow() as uow:
            count = await uow.performance_reports.claim_due_connections(
                self.clock(), self._every, BATCH
            )
            await uow.commit()
        return count

    async def check_due(self) -> int:
        """Move every open report whose check is due one step; how many were checked."""
        lease = timedelta(seconds=self.spapi.settings.spapi_lease_seconds)
        async with self.new_uow() as uow:
            rows = await uow.performance_reports.claim_open(self.clock(), lease, BATCH)
            await uow.commit()
        for row in rows:
            try:
                await self._check(row)
            except (SpApiUnavailable, ReportTransferError) as exc:  # transient: next check
                await self._later(row, f"{type(exc).__name__}: {exc}")
            except SpApiRequestError as exc:
                await self._fail(row, f"Amazon refused: {exc}")
            except performance_report.InvalidPerformanceReport as exc:
                await self._fail(row, f"unreadable report: {exc}")
        return len(rows)

    async def _check(self, row: Any) -> None:
        if self.clock() - row.requested_at > self._timeout:
            await self._fail(row, f"not done {self._timeout} after it was requested")
            return
        async with self.new_uow() as uow:
            connection = await uow.performance_reports.connection(row.connection_id)
        if connection is None:
            await self._fail(row, "the connection is no longer active")
            return
        async with self.spapi.client() as client:
            reports = ReportsClient(self.spapi.http(client, connection, self.vault))
            if row.status == "requesting":
                report_id = await reports.create_report(
                    report_type=performance_report.REPORT_TYPE,
                    marketplace_ids=list(row.marketplace_ids),
                )
                await self._save(
                    row,
                    status="requested",
                    report_id=report_id,
                    next_check_at=self.clock() + self._poll,
                )
                return
            report = await reports.get_report(row.report_id)
            if not report.final:
                await self._save(row, next_check_at=self.clock() + self._poll)
            elif report.processing_status != "DONE" or not report.report_document_id:
                await self._fail(
                    row,
                    f"Amazon ended report {report.report_id} "
                    f"{report.processing_status} without a document",
                )
            else:
                document = await reports.document(report.report_document_id)
                await self._done(row, report, document)

    async def _done(self, row: Any, report: Report, document: bytes) -> None:
        marketplaces = performance_report.parse(document)
        now = self.clock()
        try:
            payload = AmazonAccountHealth(
                seller_id=row.seller_id,
                report_id=report.report_id,
                reported_at=report.processing_end_time or now,
                fetched_at=now,
                marketplaces=tuple(marketplaces),
            )
        except ValidationError as exc:
            raise performance_report.InvalidPerformanceReport(str(exc)) from None
        async with self.new_uow() as uow:
            await uow.performance_reports.update(
                row.id,
                status="done",
                finished_at=now,
                reported_at=payload.reported_at,
                document=_json(document),
                error=None,
            )
            uow.publish([_announcement(row, payload)])
            await uow.commit()
        log.info(
            "amazon performance report stored",
            extra={"report_id": report.report_id, "marketplaces": len(marketplaces)},
        )

    async def _save(self, row: Any, **values: Any) -> None:
        async with self.new_uow() as uow:
            await uow.performance_reports.update(row.id, **values)
            await uow.commit()

    async def _later(self, row: Any, error: str) -> None:
        log.warning("amazon performance report check failed", extra={"error": error[:200]})
        await self._save(row, next_check_at=self.clock() + self._poll, error=scrub(error, 1000))

    async def _fail(self, row: Any, error: str) -> None:
        log.warning("amazon performance report failed", extra={"error": error[:200]})
        await self._save(row, status="failed", finished_at=self.clock(), error=scrub(error, 1000))


def _json(document: bytes) -> str:
    """The document as JSON text, as Amazon wrote it (already read, so valid JSON)."""
    return document.decode()


def _announcement(row: Any, payload: AmazonAccountHealth) -> Any:
    return build_event(
        topic=topics.ORDERS,
        event_type=AMAZON_ACCOUNT_HEALTH_REPORTED,
        payload=payload,
        source=SOURCE,
        subject=row.seller_id,
        seller_id=row.seller_id,
        version=row.id,
    )


def reporter_of(resources: Resources[Any]) -> PerformanceReporter:
    return PerformanceReporter(
        new_uow=uow_factory_of(resources), spapi=spapi_of(resources), vault=vault_of(resources)
    )


async def run_performance_reports(resources: Resources[Any]) -> None:
    """Background job: request due reports and follow open ones, forever (when enabled)."""
    settings = spapi_of(resources).settings
    if not settings.performance_reports_enabled:
        log.info("amazon performance reports disabled (PERFORMANCE_REPORTS_ENABLED=false)")
        return
    reporter = reporter_of(resources)
    while True:
        busy = 0
        try:
            await reporter.request_due()
            busy = await reporter.check_due()
        except Exception:  # a database hiccup must not end the job
            log.exception("amazon performance report pass failed")
        if not busy:
            await asyncio.sleep(settings.spapi_idle_seconds)
