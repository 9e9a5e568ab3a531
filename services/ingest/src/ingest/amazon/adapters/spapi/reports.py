"""Reports API 2021-06-30 on ``SpApiHttp``: request a report, follow it, read its document.

The flow (Amazon's reports use case guide; models/reports-api-model/reports_2021-06-30.json):
``createReport`` (``reportType``, ``marketplaceIds``; answers 202 with a ``reportId``),
``getReport`` until ``processingStatus`` is final (DONE, CANCELLED or FATAL; before that
IN_QUEUE or IN_PROGRESS), then ``getReportDocument`` for its ``reportDocumentId`` (a presigned
``url``, and ``compressionAlgorithm`` GZIP when compressed) and a plain ``GET`` of that url.

Usage plans (the model's): createReport 0.0167/s burst 15, getReport 2/s burst 15,
getReportDocument 0.0167/s burst 15, per seller: a report per seller a day and a poll every
``PERFORMANCE_REPORT_POLL_SECONDS`` stay far inside them, and ``SpApiHttp``'s buckets wait
rather than be refused. A CANCELLED report has no document (Amazon cancels one with no data).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from ingest.amazon.adapters.spapi.documents import decompressed, transfer
from ingest.amazon.adapters.spapi.http import SpApiHttp

BASE = "/reports/2021-06-30"
FINAL_STATUSES = frozenset({"DONE", "CANCELLED", "FATAL"})


class ReportTransferError(Exception):
    """The presigned document url refused the download (4xx): ask for the document again."""

    def __init__(self, status: int, what: str) -> None:
        super().__init__(f"report document {what} answered {status}")
        self.status = status


@dataclass(frozen=True)
class Report:
    report_id: str
    processing_status: str
    report_document_id: str | None = None
    processing_end_time: datetime | None = None

    @property
    def final(self) -> bool:
        return self.processing_status in FINAL_STATUSES


def _report(body: dict[str, object]) -> Report:
    document = body.get("reportDocumentId")
    end = body.get("processingEndTime")
    return Report(
        report_id=str(body["reportId"]),
        processing_status=str(body["processingStatus"]),
        report_document_id=str(document) if document else None,
        processing_end_time=_moment(end) if isinstance(end, str) else None,
    )


def _moment(value: str) -> datetime | None:
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else None


@dataclass
class ReportsClient:
    http: SpApiHttp

    async def create_report(self, *, report_type: str, marketplace_ids: Sequence[str]) -> str:
        body = await self.http.post(
            "createReport",
            f"{BASE}/reports",
            {"reportType": report_type, "marketplaceIds": list(marketplace_ids)},
        )
        return str(body["reportId"])

    async def get_report(self, report_id: str) -> Report:
        return _report(await self.http.get("getReport", f"{BASE}/reports/{report_id}", {}))

    async def document(self, report_document_id: str) -> bytes:
        """getReportDocument, then the document's bytes (decompressed)."""
        body = await self.http.get(
            "getReportDocument", f"{BASE}/documents/{report_document_id}", {}
        )
        compression = body.get("compressionAlgorithm")
        content = await transfer(
            self.http, "GET", str(body["url"]), "download", refused=ReportTransferError
        )
        return decompressed(content, str(compression) if compression else None)
