"""Amazon's seller performance report (``GET_V2_SELLER_PERFORMANCE_REPORT``) read into the
metrics Orderflow computes too (pure).

The document is JSON as amzn/selling-partner-api-models
schemas/reports/accountHealthReport-2020-11-18.json describes it: ``accountStatuses`` (per
marketplace) and ``performanceMetrics`` (per marketplace). Each metric Orderflow also computes
is taken with its counts, ``rate``, ``status``, ``targetValue``, ``targetCondition`` and
``reportingDateRange``:

- ``orderDefectRate.mfn`` / ``.afn``: ``orderWithDefects.count`` / ``orderCount``;
- ``lateShipmentRate``: ``lateShipmentCount`` / ``orderCount``, scoped to the Orderflow window
  (10 or 30 days) nearest its reporting range;
- ``preFulfillmentCancellationRate``: ``cancellationCount`` / ``orderCount`` (the schema's
  name; the schema's own example spells it ``prefulfillmentCancelRate``, which is read too);
- ``validTrackingRate``: ``validTrackingCount`` / ``shipmentCount``;
- ``onTimeDeliveryRate``: ``onTimeDeliveryCount`` / ``shipmentCountWithValidTracking``.

Numbers are read as decimals, never floats, so a rate keeps the digits Amazon wrote (the
rounding rule that compares figures depends on them). A metric missing from a marketplace is
left out; a document that is not such a report raises ``InvalidPerformanceReport``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from shared.events.performance import AmazonMetric, MarketplacePerformance

REPORT_TYPE = "GET_V2_SELLER_PERFORMANCE_REPORT"
LSR_WINDOWS = (10, 30)  # analytics' late-shipment windows, in days


class InvalidPerformanceReport(ValueError):
    """The document is not a seller performance report this reader understands."""


@dataclass(frozen=True)
class Field:
    """Where one metric sits in a marketplace's ``performanceMetrics`` entry."""

    name: str
    scope: str
    path: tuple[str, ...]
    numerator: tuple[str, ...]
    denominator: tuple[str, ...]


FIELDS = (
    Field(
        "order_defect_rate",
        "MFN",
        ("orderDefectRate", "mfn"),
        ("orderWithDefects", "count"),
        ("orderCount",),
    ),
    Field(
        "order_defect_rate",
        "AFN",
        ("orderDefectRate", "afn"),
        ("orderWithDefects", "count"),
        ("orderCount",),
    ),
    Field("late_shipment_rate", "", ("lateShipmentRate",), ("lateShipmentCount",), ("orderCount",)),
    Field(
        "pre_fulfillment_cancel_rate",
        "MFN",
        ("preFulfillmentCancellationRate",),
        ("cancellationCount",),
        ("orderCount",),
    ),
    Field(
        "valid_tracking_rate",
        "MFN",
        ("validTrackingRate",),
        ("validTrackingCount",),
        ("shipmentCount",),
    ),
    Field(
        "on_time_delivery_rate",
        "MFN",
        ("onTimeDeliveryRate",),
        ("onTimeDeliveryCount",),
        ("shipmentCountWithValidTracking",),
    ),
)
ALIASES = {"preFulfillmentCancellationRate": "prefulfillmentCancelRate"}


def parse(document: bytes) -> list[MarketplacePerformance]:
    """Each marketplace of the report with the metrics it carries."""
    try:
        body = json.loads(document, parse_float=Decimal)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidPerformanceReport(f"not JSON: {exc}") from None
    if not isinstance(body, dict) or not isinstance(body.get("performanceMetrics"), list):
        raise InvalidPerformanceReport("no performanceMetrics list")
    statuses = {
        s.get("marketplaceId"): s.get("status")
        for s in body.get("accountStatuses") or []
        if isinstance(s, dict)
    }
    try:
        return [
            MarketplacePerformance(
                marketplace_id=entry["marketplaceId"],
                account_status=statuses.get(entry["marketplaceId"]),
                metrics=tuple(m for f in FIELDS if (m := _metric(entry, f)) is not None),
            )
            for entry in body["performanceMetrics"]
        ]
    except (KeyError, TypeError, ValueError) as exc:
        raise InvalidPerformanceReport(f"unreadable marketplace entry: {exc}") from None


def _metric(entry: Mapping[str, Any], field: Field) -> AmazonMetric | None:
    found = _at(entry, field.path)
    if found is None and field.path[0] in ALIASES:
        found = _at(entry, (ALIASES[field.path[0]], *field.path[1:]))
    if not isinstance(found, dict):
        return None
    dates = found.get("reportingDateRange") or {}
    start, end = _moment(dates.get("reportingDateFrom")), _moment(dates.get("reportingDateTo"))
    return AmazonMetric(
        name=field.name,
        scope=field.scope or _lsr_scope(start, end),
        report_field=".".join(field.path),
        numerator=_count(_at(found, field.numerator)),
        denominator=_count(_at(found, field.denominator)),
        rate=_decimal(found.get("rate")),
        status=found.get("status"),
        target_value=_decimal(found.get("targetValue")),
        target_condition=found.get("targetCondition"),
        reporting_date_from=start,
        reporting_date_to=end,
    )


def _lsr_scope(start: datetime | None, end: datetime | None) -> str:
    """The late-shipment window nearest the reporting range (Amazon's default is 30 days)."""
    if start is None or end is None:
        return f"{LSR_WINDOWS[-1]}d"
    days = round((end - start).total_seconds() / 86400)
    return f"{min(LSR_WINDOWS, key=lambda w: abs(w - days))}d"


def _at(body: Any, path: tuple[str, ...]) -> Any:
    for key in path:
        if not isinstance(body, dict):
            return None
        body = body.get(key)
    return body


def _count(value: Any) -> int | None:
    """A count as Amazon wrote it (the schema types shipmentCountWithValidTracking as a
    number): a whole number, else None."""
    if isinstance(value, bool) or not isinstance(value, int | Decimal):
        return None
    return int(value) if value == int(value) and value >= 0 else None


def _decimal(value: Any) -> Decimal | None:
    if isinstance(value, bool) or not isinstance(value, int | Decimal):
        return None
    return Decimal(value)


def _moment(value: Any) -> datetime | None:
    """Amazon writes ``2020-11-18T23:59Z`` (UTC, no seconds)."""
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else None
