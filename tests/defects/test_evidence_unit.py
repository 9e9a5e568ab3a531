"""Evidence: the packet assembled from order facts, and the file checks (magic bytes, sizes)."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from defects.domain import evidence_files
from defects.domain.errors import RejectedEvidence
from defects.domain.evidence import build_packet
from defects.domain.model import (
    CancellationFact,
    Claim,
    ClaimKind,
    ClaimReason,
    Money,
    OrderFacts,
    RefundFact,
    ShipmentFact,
)

pytestmark = pytest.mark.unit

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
PDF = b"%PDF-1.7\n1 0 obj\n<<>>\nendobj\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 20
JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 20


def a_claim() -> Claim:
    return Claim.file(
        seller_id="S1",
        amazon_order_id="111-1111111-1111111",
        kind=ClaimKind.A_TO_Z,
        reason=ClaimReason.ITEM_NOT_RECEIVED,
        amount=Money(Decimal("39.98"), "USD"),
        filed_at=NOW - timedelta(days=1),
        now=NOW,
    )


def test_packet_shows_shipment_promise_refunds_and_cancellation() -> None:
    ship = ShipmentFact(
        shipment_id="s1",
        carrier_code="UPS",
        tracking_number="1Z999AA10123456784",
        ship_date=NOW - timedelta(days=6),
        on_time=True,
        is_buy_shipping=True,
        valid_tracking=True,
        latest_ship_date=NOW - timedelta(days=5),
    )
    refund = RefundFact("r1", "CustomerReturn", Money(Decimal("5.00"), "USD"), NOW)
    refund2 = RefundFact("r2", "GeneralAdjustment", Money(Decimal("2.50"), "USD"), NOW)
    facts = OrderFacts(
        "111-1111111-1111111",
        "S1",
        known=True,
        purchase_date=NOW - timedelta(days=8),
        fulfillment_channel="MFN",
        latest_ship_date=NOW - timedelta(days=5),
        latest_delivery_date=NOW - timedelta(days=1),
        shipments=(ship,),
        refunds=(refund, refund2),
        cancellation=CancellationFact("NoInventory", "seller", False, NOW),
    )
    packet = build_packet(a_claim(), facts)
    [shipment] = packet["shipments"]
    assert shipment["carrier_code"] == "UPS" and shipment["on_time"] is True
    assert shipment["tracking_number"] == "1Z999AA10123456784"
    assert packet["delivery_promise"]["latest_delivery_date"] == NOW - timedelta(days=1)
    assert packet["refunded_total"] == {"amount": "7.50", "currency_code": "USD"}
    assert packet["refunded_totals"] == [{"amount": "7.50", "currency_code": "USD"}]
    assert packet["cancellation"]["canceled_by"] == "seller"
    assert packet["order"]["fulfillment_channel"] == "MFN"
    text = " ".join(packet["findings"])
    assert "Shipped on time" in text and "Buy Shipping claims protection" in text
    assert "Refunded 5.00 USD" in text


def test_packet_for_an_unknown_order_says_so() -> None:
    packet = build_packet(a_claim(), None)
    assert packet["order_known"] is False and packet["order"] is None
    assert packet["shipments"] == [] and "not reached this service" in packet["findings"][0]


@pytest.mark.parametrize(
    ("content", "declared", "expected"),
    [
        (PDF, "application/pdf", "application/pdf"),
        (PNG, "image/png", "image/png"),
        (JPEG, "image/jpeg", "image/jpeg"),
        (b"Tracking shows delivered on 11/20.\n", "text/plain; charset=utf-8", "text/plain"),
        (PDF, "application/octet-stream", "application/pdf"),
    ],
)
def test_allowed_files_are_recognised_by_their_bytes(
    content: bytes, declared: str, expected: str
) -> None:
    f = evidence_files.accept(index=0, filename="a.bin", declared=declared, content=content)
    assert f.content_type == expected
    assert f.sha256 == hashlib.sha256(content).hexdigest()


@pytest.mark.parametrize(
    ("content", "declared", "status"),
    [
        (b"MZ\x90\x00\x03\x00\x00\x00", "application/pdf", 415),  # a Windows executable
        (b"\x7fELF\x02\x01\x01", "text/plain", 415),
        (b"GIF89a\x01\x00", "image/gif", 415),
        (PNG, "application/pdf", 415),  # declared type does not match the content
        (b"", "text/plain", 422),
    ],
)
def test_other_files_are_refused(content: bytes, declared: str, status: int) -> None:
    with pytest.raises(RejectedEvidence) as err:
        evidence_files.accept(index=2, filename="x", declared=declared, content=content)
    assert err.value.field == "files[2]" and err.value.status == status


def test_size_and_count_limits() -> None:
    big = PDF + b"0" * evidence_files.MAX_FILE_BYTES
    with pytest.raises(RejectedEvidence) as err:
        evidence_files.accept(index=0, filename="big.pdf", declared="application/pdf", content=big)
    assert err.value.status == 413
    evidence_files.check_count(5)
    with pytest.raises(RejectedEvidence):
        evidence_files.check_count(6)


def test_filenames_are_made_safe() -> None:
    assert evidence_files.safe_filename('../../etc/pa"ss\r\nwd', 0) == "pa_ss__wd"
    assert evidence_files.safe_filename(None, 1) == "evidence-2"


def test_refunds_in_two_currencies_are_never_added() -> None:
    refunds = (
        RefundFact("r1", "CustomerReturn", Money(Decimal("5.00"), "USD"), NOW),
        RefundFact("r2", "CustomerReturn", Money(Decimal("4.00"), "EUR"), NOW),
        RefundFact("r3", "GeneralAdjustment", Money(Decimal("1.50"), "EUR"), NOW),
    )
    facts = OrderFacts("111-1111111-1111111", "S1", known=True, refunds=refunds)
    packet = build_packet(a_claim(), facts)
    assert packet["refunded_total"] is None
    assert packet["refunded_totals"] == [
        {"amount": "5.50", "currency_code": "EUR"},
        {"amount": "5.00", "currency_code": "USD"},
    ]
