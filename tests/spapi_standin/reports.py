"""The stand-in's Reports API 2021-06-30, as Amazon's model describes it, serving the seller
performance report (``GET_V2_SELLER_PERFORMANCE_REPORT``).

``createReport`` (``reportType``, ``marketplaceIds``: 1 to 25) answers 202 with a ``reportId``;
the report is IN_QUEUE, then IN_PROGRESS after ``processing_delay`` seconds, then DONE with a
``reportDocumentId`` (or CANCELLED without one, as Amazon ends a report with no data, for the
next ``cancel`` reports). ``getReport`` reads it; ``getReportDocument`` answers a ``url`` served
by the stand-in itself (``/standin-reports/{id}`` with a token, like a presigned url),
GZIP-compressed when ``compress`` is set. Throttling and call records are the server's
(operations createReport, getReport, getReportDocument).

The document of each report type is what a test ``serve``s; a seller performance report not
served is the schema's own example (amzn/selling-partner-api-models
schemas/reports/accountHealthReport-2020-11-18.json, ``examples``), which spells the cancel rate
``prefulfillmentCancelRate``. ``performance_document`` builds one in the schema's shape.
"""

from __future__ import annotations

import gzip
import itertools
import secrets
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

if TYPE_CHECKING:
    from spapi_standin.server import StandIn

PLANS: dict[str, tuple[float, int]] = {
    "createReport": (0.0167, 15),
    "getReport": (2.0, 15),
    "getReportDocument": (0.0167, 15),
}
PERFORMANCE = "GET_V2_SELLER_PERFORMANCE_REPORT"


def _range(start: str, end: str) -> dict[str, str]:
    return {"reportingDateFrom": start, "reportingDateTo": end}


# The schema's example, as published (the two ODR entries are its own copy-paste).
_ODR_EXAMPLE = {
    "reportingDateRange": _range("2020-09-06T00:00Z", "2020-11-04T23:59Z"),
    "orderCount": 539000,
    "orderWithDefects": {"count": 1078, "status": "GOOD"},
    "claims": {"count": 442, "status": "NONE"},
    "chargebacks": {"count": 15, "status": "NONE"},
    "negativeFeedback": {"count": 628, "status": "NONE"},
    "fulfillmentType": "mfn",
    "status": "GOOD",
    "rate": 0.009,
    "targetValue": 0.01,
    "targetCondition": "LESS_THAN",
}
EXAMPLE: dict[str, Any] = {
    "accountStatuses": [
        {"marketplaceId": "ATVPDKIKX0DER", "status": "AT_RISK"},
        {"marketplaceId": "A2EUQ1WTGCTBG2", "status": "NORMAL"},
        {"marketplaceId": "A1AM78C64UM0Y8", "status": "SUSPENDED"},
    ],
    "performanceMetrics": [
        {
            "marketplaceId": "ATVPDKIKX0DER",
            "lateShipmentRate": {
                "reportingDateRange": _range("2020-10-21T00:00Z", "2020-11-19T23:59Z"),
                "orderCount": 870669,
                "lateShipmentCount": 27896,
                "status": "GOOD",
                "rate": 0.03203973037,
                "targetValue": 0.04,
                "targetCondition": "LESS_THAN",
            },
            "prefulfillmentCancelRate": {
                "reportingDateRange": _range("2020-11-12T00:00Z", "2020-11-18T23:59Z"),
                "orderCount": 17197,
                "cancellationCount": 551,
                "status": "GOOD",
                "rate": 0.005,
                "targetValue": 0.01,
                "targetCondition": "LESS_THAN",
            },
            "onTimeDeliveryRate": {
                "reportingDateRange": _range("2020-10-11T00:00Z", "2020-11-09T23:59Z"),
                "shipmentCountWithValidTracking": 808046,
                "onTimeDeliveryCount": 847987,
                "status": "GOOD",
                "rate": 0.9529,
                "targetValue": 0.95,
                "targetCondition": "GREATER_THAN",
            },
            "orderDefectRate": {"mfn": _ODR_EXAMPLE, "afn": _ODR_EXAMPLE},
            "validTrackingRate": {
                "reportingDateRange": _range("2020-10-11T00:00Z", "2020-11-09T23:59Z"),
                "shipmentCount": 878443,
                "validTrackingCount": 896462,
                "status": "GOOD",
                "rate": 0.9529,
                "targetValue": 0.95,
                "targetCondition": "GREATER_THAN",
            },
            "warningState": [{"warningType": "spammingSellerMessaging", "status": "BAD"}],
        }
    ],
}


def _metric(counts: dict[str, int], rate: str, target: str, condition: str, dates: Any) -> Any:
    ok = (Decimal(rate) < Decimal(target)) == (condition == "LESS_THAN")
    return {
        "reportingDateRange": dates,
        **counts,
        "status": "GOOD" if ok else "BAD",
        "rate": Decimal(rate),
        "targetValue": Decimal(target),
        "targetCondition": condition,
    }


def performance_document(
    marketplace_id: str,
    *,
    odr: tuple[int, int, str],
    late_shipment: tuple[int, int, str],
    cancel: tuple[int, int, str],
    valid_tracking: tuple[int, int, str],
    on_time_delivery: tuple[int, int, str],
    account_status: str = "NORMAL",
    reporting_to: str = "2026-06-29T23:59Z",
) -> dict[str, Any]:
    """A report of one marketplace in the schema's shape: each metric (numerator, denominator,
    rate as Amazon writes it), the same MFN and AFN order defects."""
    days = {60: "2026-04-30T00:00Z", 30: "2026-05-31T00:00Z", 7: "2026-06-23T00:00Z"}

    def dates(n: int) -> dict[str, str]:
        return _range(days[n], reporting_to)

    defects = {
        "orderWithDefects": {"count": odr[0], "status": "NONE"},
        "orderCount": odr[1],
        "claims": {"count": 0, "status": "NONE"},
        "chargebacks": {"count": 0, "status": "NONE"},
        "negativeFeedback": {"count": odr[0], "status": "NONE"},
    }
    return {
        "accountStatuses": [{"marketplaceId": marketplace_id, "status": account_status}],
        "performanceMetrics": [
            {
                "marketplaceId": marketplace_id,
                "orderDefectRate": {
                    kind: {
                        **_metric(defects, odr[2], "0.01", "LESS_THAN", dates(60)),
                        "fulfillmentType": kind,
                    }
                    for kind in ("mfn", "afn")
                },
                "lateShipmentRate": _metric(
                    {"lateShipmentCount": late_shipment[0], "orderCount": late_shipment[1]},
                    late_shipment[2],
                    "0.04",
                    "LESS_THAN",
                    dates(30),
                ),
                "preFulfillmentCancellationRate": _metric(
                    {"cancellationCount": cancel[0], "orderCount": cancel[1]},
                    cancel[2],
                    "0.025",
                    "LESS_THAN",
                    dates(7),
                ),
                "validTrackingRate": _metric(
                    {"validTrackingCount": valid_tracking[0], "shipmentCount": valid_tracking[1]},
                    valid_tracking[2],
                    "0.95",
                    "GREATER_THAN",
                    dates(30),
                ),
                "onTimeDeliveryRate": _metric(
                    {
                        "onTimeDeliveryCount": on_time_delivery[0],
                        "shipmentCountWithValidTracking": on_time_delivery[1],
                    },
                    on_time_delivery[2],
                    "0.97",
                    "GREATER_THAN",
                    dates(30),
                ),
            }
        ],
    }


def _json(document: dict[str, Any]) -> bytes:
    """JSON as a service writes it: decimals as numbers (their shortest form: 0.9529)."""
    return orjson.dumps(document, default=float)


@dataclass
class _Report:
    report_id: str
    report_type: str
    marketplace_ids: tuple[str, ...]
    seller: str
    created: datetime
    status: str = "IN_QUEUE"
    ended: datetime | None = None
    document_id: str | None = None

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "reportId": self.report_id,
            "reportType": self.report_type,
            "marketplaceIds": list(self.marketplace_ids),
            "createdTime": _iso(self.created),
            "processingStatus": self.status,
        }
        if self.ended:
            body["processingEndTime"] = _iso(self.ended)
        if self.document_id:
            body["reportDocumentId"] = self.document_id
        return body


@dataclass
class _Document:
    token: str
    seller: str
    content: bytes
    compressed: bool


def _iso(at: datetime) -> str:
    return at.isoformat(timespec="seconds").replace("+00:00", "Z")


@dataclass
class ReportsStandIn:
    server: StandIn
    processing_delay: float = 0.2
    compress: bool = False
    cancel: int = 0  # how many of the next reports end CANCELLED (no data), without a document
    served: dict[str, bytes] = field(default_factory=lambda: {PERFORMANCE: _json(EXAMPLE)})
    requested: list[tuple[str, tuple[str, ...]]] = field(default_factory=list)
    _reports: dict[str, _Report] = field(default_factory=dict)
    _documents: dict[str, _Document] = field(default_factory=dict)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(50_119_018_000))

    # -- what tests set up and read --------------------------------------------------------

    def serve(self, report_type: str, document: dict[str, Any] | bytes) -> None:
        """What the next reports of this type hold."""
        content = document if isinstance(document, bytes) else _json(document)
        with self.server._lock:
            self.served[report_type] = content

    def report(self, report_id: str) -> dict[str, Any] | None:
        with self.server._lock:
            found = self._reports.get(report_id)
            return found.body() if found else None

    # -- endpoints -------------------------------------------------------------------------

    def routes(self) -> list[Route]:
        base = "/reports/2021-06-30"
        return [
            Route(f"{base}/reports", self.create_report, methods=["POST"]),
            Route(f"{base}/reports/{{report_id}}", self.get_report),
            Route(f"{base}/documents/{{document_id}}", self.get_document),
            Route("/standin-reports/{document_id}", self.download),
        ]

    def _refuse(self, operation: str, seller: str | None, message: str, status: int = 400) -> Any:
        code = "InvalidInput" if status == 400 else "NotFound"
        body = {"errors": [{"code": code, "message": message}]}
        return self.server._ok(operation, seller, body, status)

    async def create_report(self, request: Request) -> Response:
        operation = "createReport"
        seller, refused = self.server._gate(request, operation)
        if refused:
            return refused
        try:
            body = orjson.loads(await request.body())
        except orjson.JSONDecodeError:
            body = {}
        report_type = body.get("reportType") if isinstance(body, dict) else None
        marketplaces = body.get("marketplaceIds") if isinstance(body, dict) else None
        if (
            not report_type
            or not isinstance(marketplaces, list)
            or not 1 <= len(marketplaces) <= 25
        ):
            return self._refuse(operation, seller, "reportType and marketplaceIds are required")
        if report_type not in self.served:
            return self._refuse(operation, seller, f"Report type {report_type} is not supported")
        report = _Report(
            report_id=str(next(self._ids)),
            report_type=str(report_type),
            marketplace_ids=tuple(str(m) for m in marketplaces),
            seller=seller or "",
            created=datetime.now(UTC),
        )
        with self.server._lock:
            self._reports[report.report_id] = report
            self.requested.append((report.report_type, report.marketplace_ids))
        timer = threading.Timer(self.processing_delay, self._process, args=(report,))
        timer.daemon = True
        timer.start()
        return self.server._ok(operation, seller, {"reportId": report.report_id}, 202)

    async def get_report(self, request: Request) -> Response:
        operation = "getReport"
        seller, refused = self.server._gate(request, operation)
        if refused:
            return refused
        with self.server._lock:
            report = self._reports.get(request.path_params["report_id"])
            body = report.body() if report and report.seller == seller else None
        if body is None:
            return self._refuse(operation, seller, "No report", 404)
        return self.server._ok(operation, seller, body)

    async def get_document(self, request: Request) -> Response:
        operation = "getReportDocument"
        seller, refused = self.server._gate(request, operation)
        if refused:
            return refused
        document_id = request.path_params["document_id"]
        with self.server._lock:
            document = self._documents.get(document_id)
        if document is None or document.seller != seller:
            return self._refuse(operation, seller, "Invalid reportDocumentId")
        url = f"{self.server.base_url}/standin-reports/{document_id}?token={document.token}"
        body: dict[str, Any] = {"reportDocumentId": document_id, "url": url}
        if document.compressed:
            body["compressionAlgorithm"] = "GZIP"
        return self.server._ok(operation, seller, body)

    async def download(self, request: Request) -> Response:
        with self.server._lock:
            document = self._documents.get(request.path_params["document_id"])
        if document is None or request.query_params.get("token") != document.token:
            return Response("AccessDenied", status_code=403)
        return Response(document.content, media_type="application/json")

    # -- processing ------------------------------------------------------------------------

    def _process(self, report: _Report) -> None:
        with self.server._lock:
            report.status = "IN_PROGRESS"
            cancel, self.cancel = self.cancel > 0, max(self.cancel - 1, 0)
            content = self.served[report.report_type]
        threading.Event().wait(min(0.05, self.processing_delay))  # IN_PROGRESS is observable
        with self.server._lock:
            report.ended = datetime.now(UTC)
            if cancel:
                report.status = "CANCELLED"
                return
            document_id = f"amzn1.spdoc.1.4.na.{secrets.token_hex(8)}"
            self._documents[document_id] = _Document(
                token=secrets.token_urlsafe(16),
                seller=report.seller,
                content=gzip.compress(content) if self.compress else content,
                compressed=self.compress,
            )
            report.status, report.document_id = "DONE", document_id
