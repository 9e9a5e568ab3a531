"""Amazon's seller performance report read into Orderflow's metrics: the schema's own example,
a report in the schema's shape, and documents that are not such a report."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from spapi_standin.reports import EXAMPLE, performance_document

from ingest.amazon.domain.performance_report import InvalidPerformanceReport, parse

pytestmark = pytest.mark.unit

US = "ATVPDKIKX0DER"


def _by_metric(document: object) -> dict[tuple[str, str], object]:
    [market] = parse(json.dumps(document, default=str).encode())
    return {(m.name, m.scope): m for m in market.metrics}


def test_the_schemas_example_is_read_with_amazons_digits() -> None:
    [market] = parse(json.dumps(EXAMPLE).encode())
    assert (market.marketplace_id, market.account_status) == (US, "AT_RISK")
    found = {(m.name, m.scope): m for m in market.metrics}
    assert sorted(found) == [
        ("late_shipment_rate", "30d"),
        ("on_time_delivery_rate", "MFN"),
        ("order_defect_rate", "AFN"),
        ("order_defect_rate", "MFN"),
        ("pre_fulfillment_cancel_rate", "MFN"),  # spelled prefulfillmentCancelRate there
        ("valid_tracking_rate", "MFN"),
    ]
    lsr = found[("late_shipment_rate", "30d")]
    assert (lsr.numerator, lsr.denominator, lsr.rate) == (27896, 870669, Decimal("0.03203973037"))
    assert lsr.report_field == "lateShipmentRate"
    assert lsr.reporting_date_to == datetime(2020, 11, 19, 23, 59, tzinfo=UTC)
    otd = found[("on_time_delivery_rate", "MFN")]
    assert (otd.numerator, otd.denominator, otd.status) == (847987, 808046, "GOOD")
    odr = found[("order_defect_rate", "MFN")]
    assert (odr.numerator, odr.denominator, odr.rate) == (1078, 539000, Decimal("0.009"))
    assert (odr.target_value, odr.target_condition) == (Decimal("0.01"), "LESS_THAN")


def test_a_report_in_the_schemas_shape_maps_every_metric() -> None:
    document = performance_document(
        US,
        odr=(1, 4, "0.25"),
        late_shipment=(2, 100, "0.02"),
        cancel=(0, 4, "0"),
        valid_tracking=(95, 100, "0.95"),
        on_time_delivery=(90, 95, "0.9474"),
    )
    found = _by_metric(document)
    assert len(found) == 6
    assert found[("valid_tracking_rate", "MFN")].numerator == 95  # type: ignore[attr-defined]
    cancel = found[("pre_fulfillment_cancel_rate", "MFN")]
    assert cancel.report_field == "preFulfillmentCancellationRate"  # type: ignore[attr-defined]


def test_a_ten_day_late_shipment_range_is_the_ten_day_window() -> None:
    entry = {
        "marketplaceId": US,
        "lateShipmentRate": {
            "reportingDateRange": {
                "reportingDateFrom": "2026-06-20T00:00Z",
                "reportingDateTo": "2026-06-29T23:59Z",
            },
            "orderCount": 10,
            "lateShipmentCount": 1,
            "rate": 0.1,
        },
    }
    found = _by_metric({"performanceMetrics": [entry]})
    assert list(found) == [("late_shipment_rate", "10d")]


@pytest.mark.parametrize(
    "document",
    [b"not json", b"[]", b'{"accountStatuses": []}', b'{"performanceMetrics": [{"x": 1}]}'],
)
def test_a_document_that_is_no_such_report_is_refused(document: bytes) -> None:
    with pytest.raises(InvalidPerformanceReport):
        parse(document)
