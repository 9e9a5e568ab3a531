"""Amazon's figure beside Orderflow's: the seller's figure and the rounding rule."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from analytics.domain.amazon_figures import (
    Reported,
    disagree,
    reported_by_metric,
    seller_figure,
    uncertainty,
)

pytestmark = pytest.mark.unit

US, CA = "ATVPDKIKX0DER", "A2EUQ1WTGCTBG2"


def _reported(market: str, value: str | None, numerator: int, denominator: int) -> Reported:
    return Reported(
        market,
        None if value is None else Decimal(value),
        numerator,
        denominator,
        "GOOD",
        None,
        None,
    )


def test_a_figure_is_uncertain_by_half_a_unit_of_its_last_place() -> None:
    assert uncertainty(Decimal("0.0182")) == Decimal("0.00005")
    assert uncertainty(Decimal("0.009")) == Decimal("0.0005")
    assert uncertainty(Decimal("0.03203973037")) == Decimal("0.000000000005")
    assert uncertainty(Decimal("1")) == 0  # a whole number is exact


def test_figures_disagree_only_when_no_rate_rounds_to_both() -> None:
    assert disagree(Decimal("0.0091"), Decimal("0.009")) is False  # 0.0091 may round to 0.009
    assert disagree(Decimal("0.0096"), Decimal("0.009")) is True  # 0.0096 > 0.0095 + 0.00005
    assert disagree(Decimal("0.9529"), Decimal("0.95294")) is False
    assert disagree(Decimal("0.9529"), Decimal("0.95296")) is True
    assert disagree(Decimal("0.0320"), Decimal("0.03203973037")) is False
    assert disagree(None, Decimal("0.5")) is None
    assert disagree(Decimal("0.5"), None) is None


def test_one_marketplace_keeps_amazons_rate_as_written() -> None:
    figure = seller_figure([_reported(US, "0.009", 9, 1000)], Decimal("0.0182"))
    assert figure is not None
    assert (figure.value, figure.numerator, figure.denominator) == (Decimal("0.009"), 9, 1000)
    assert figure.disagrees is True and figure.difference == Decimal("-0.0092")


def test_several_marketplaces_sum_their_counts() -> None:
    figure = seller_figure(
        [_reported(US, "0.01", 3, 300), _reported(CA, "0.02", 2, 100)], Decimal("0.0125")
    )
    assert figure is not None
    assert (figure.value, figure.numerator, figure.denominator) == (Decimal("0.0125"), 5, 400)
    assert figure.disagrees is False and len(figure.by_marketplace) == 2
    assert seller_figure([], Decimal("0.5")) is None


def test_the_stored_report_is_read_by_metric_and_scope() -> None:
    stored = [
        {
            "marketplace_id": US,
            "account_status": "NORMAL",
            "metrics": [
                {
                    "name": "order_defect_rate",
                    "scope": "MFN",
                    "report_field": "orderDefectRate.mfn",
                    "numerator": 1078,
                    "denominator": 539000,
                    "rate": "0.002",
                    "status": "GOOD",
                    "reporting_date_from": "2020-09-06T00:00:00Z",
                    "reporting_date_to": "2020-11-04T23:59:00Z",
                }
            ],
        }
    ]
    [odr] = reported_by_metric(stored)[("order_defect_rate", "MFN")]
    assert (odr.value, odr.numerator, odr.denominator) == (Decimal("0.002"), 1078, 539000)
    assert odr.reporting_to == datetime(2020, 11, 4, 23, 59, tzinfo=UTC)
