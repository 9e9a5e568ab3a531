"""A shipment's carrier scans: repeats change nothing; the newest ``MAX_SCANS`` are kept while
the first physical scan and the first delivery never move for a dropped scan."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from fulfillment.domain.values import MAX_SCANS, Shipment

pytestmark = pytest.mark.unit

T = datetime(2026, 6, 1, 12, tzinfo=UTC)
H = timedelta(hours=1)


def _shipment() -> Shipment:
    return Shipment(
        shipment_id="s-1",
        carrier_code="UPS",
        tracking_number="1Z999AA10123456784",
        ship_date=T,
        items=(),
        confirmed_at=T,
        on_time=True,
        valid_tracking=True,
    )


def test_repeats_change_nothing_and_labels_are_not_scans() -> None:
    shipment = _shipment()
    assert shipment.record_scan("pre_transit", T, T) is True
    assert shipment.first_scan_at is None  # a label made is not a physical scan
    assert shipment.record_scan("in_transit", T + H, T) is True
    assert shipment.record_scan("in_transit", T + H, T + 2 * H) is False
    assert shipment.record_scan("delivered", T + 5 * H, T) is True
    assert shipment.record_scan("delivered", T + 3 * H, T) is True  # an earlier delivery
    assert (shipment.first_scan_at, shipment.delivered_at) == (T + H, T + 3 * H)
    assert shipment.tracking_since == T  # confirmed_at, for documents without the field


def test_only_the_newest_scans_are_kept() -> None:
    shipment = _shipment()
    for n in range(MAX_SCANS + 5):
        assert shipment.record_scan("in_transit", T + n * H, T) is True
    assert len(shipment.scans) == MAX_SCANS
    assert shipment.scans[0].occurred_at == T + 5 * H
    assert shipment.first_scan_at == T  # kept apart from the list
    assert shipment.record_scan("in_transit", T + 2 * H, T) is False  # older than all, no news
    assert shipment.record_scan("delivered", T + 2 * H, T) is True  # news, though not listed
    assert shipment.delivered_at == T + 2 * H and len(shipment.scans) == MAX_SCANS


def test_a_new_tracking_number_forgets_the_old_parcel() -> None:
    shipment = _shipment()
    shipment.record_scan("delivered", T + H, T)
    shipment.new_tracking(T + 2 * H)
    assert (shipment.scans, shipment.first_scan_at, shipment.delivered_at) == ([], None, None)
    assert shipment.tracking_since == T + 2 * H
