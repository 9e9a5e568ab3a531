"""Shipment confirmations to Amazon, the pure part: states, the request body, skip reasons,
Amazon's errors, back-off."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest

from ingest.amazon.domain.confirmations import (
    Action,
    ShipmentFacts,
    Status,
    confirm_body,
    error_text,
    retry_at,
    skip_reason,
    transition,
)
from ingest.amazon.domain.connections import InvalidTransition
from ingest.amazon.domain.throttle import LIMITS

pytestmark = pytest.mark.unit

SHIP = datetime(2026, 11, 20, 15, 30, tzinfo=UTC)


def facts(**over: object) -> ShipmentFacts:
    values: dict[str, object] = {
        "seller_id": "A2SELLER1EXAMPLE",
        "amazon_order_id": "113-1234567-1234567",
        "marketplace_id": "ATVPDKIKX0DER",
        "fulfillment_channel": "MFN",
        "shipment_id": "sh-1",
        "carrier_code": "UPS",
        "carrier_name": None,
        "ship_method": "Ground",
        "tracking_number": "1Z999AA10123456784",
        "ship_date": SHIP,
        "items": [("12345678901234", 2)],
    }
    return ShipmentFacts(**(values | over))  # type: ignore[arg-type]


def test_transitions() -> None:
    assert transition(Status.PENDING, Action.SENT) is Status.SENT
    assert transition(Status.PENDING, Action.FAIL) is Status.FAILED
    assert transition(Status.PENDING, Action.DEFER) is Status.PENDING
    assert transition(Status.FAILED, Action.RETRY) is Status.PENDING
    for status in (Status.SENT, Status.SKIPPED, Status.PENDING):
        with pytest.raises(InvalidTransition, match="Only a failed confirmation"):
            transition(status, Action.RETRY)
    with pytest.raises(InvalidTransition):
        transition(Status.SENT, Action.SENT)  # never sent twice
    with pytest.raises(InvalidTransition):
        transition(Status.SKIPPED, Action.SENT)


def test_confirm_body_is_one_package_named_by_the_shipment() -> None:
    assert confirm_body(facts(), "ATVPDKIKX0DER") == {
        "marketplaceId": "ATVPDKIKX0DER",
        "packageDetail": {
            "packageReferenceId": "sh-1",
            "carrierCode": "UPS",
            "shippingMethod": "Ground",
            "trackingNumber": "1Z999AA10123456784",
            "shipDate": "2026-11-20T15:30:00Z",
            "orderItems": [{"orderItemId": "12345678901234", "quantity": 2}],
        },
    }
    other = confirm_body(
        facts(carrier_code="Other", carrier_name="Local Courier"), "A1F83G8C2ARO7P"
    )
    assert other["packageDetail"]["carrierName"] == "Local Courier"
    assert other["marketplaceId"] == "A1F83G8C2ARO7P"


def test_skip_reasons() -> None:
    connection = SimpleNamespace(id="c1")
    assert skip_reason(facts(), connection) is None
    afn = skip_reason(facts(fulfillment_channel="AFN"), connection)
    assert afn is not None and "Fulfilled by Amazon" in afn
    none = skip_reason(facts(), None)
    assert none == "Seller A2SELLER1EXAMPLE has no active SP-API connection."


def test_error_text_keeps_amazons_message() -> None:
    errors = [{"code": "InvalidInput", "message": "Invalid carrier", "details": "carrierCode"}]
    assert error_text(errors, 400) == "HTTP 400: InvalidInput: Invalid carrier (carrierCode)"
    assert error_text(None, 404) == "HTTP 404: None"


def test_retry_backs_off_exponentially_with_a_cap() -> None:
    now = datetime(2026, 11, 26, tzinfo=UTC)
    delays = [retry_at(now, n, base=1.0, cap=60.0, rand=lambda: 1.0) - now for n in (1, 2, 3, 10)]
    assert delays == [
        timedelta(seconds=1),
        timedelta(seconds=2),
        timedelta(seconds=4),
        timedelta(seconds=60),
    ]
    assert retry_at(now, 3, base=1.0, cap=60.0, rand=lambda: 0.0) - now == timedelta(seconds=2)


def test_confirm_shipment_plan_is_amazons() -> None:
    plan = LIMITS["confirmShipment"]
    assert (plan.rate, plan.burst) == (2.0, 10)
