"""Carriers beyond the US: Amazon's carrier codes, published tracking formats, the UPU S10
check digit, and the warning for carriers that publish no format."""

from __future__ import annotations

from decimal import Decimal

import pytest

from fulfillment.domain import carriers
from fulfillment.domain.errors import InvalidInput
from fulfillment.domain.model import Order
from tests.fulfillment.test_domain_unit import NOW, order

pytestmark = pytest.mark.unit


def _uk_order() -> Order:
    return order(currency_code="GBP", order_total=Decimal("30.00"))


def _ship(o: Order, carrier: str, number: str) -> None:
    o.confirm_shipment(
        shipment_id="s1",
        carrier_code=carrier,
        tracking_number=number,
        ship_date=NOW,
        items=None,
        now=NOW,
    )


@pytest.mark.parametrize(
    ("serial", "digit"),
    [("47312482", 9), ("71921546", 1), ("99435325", 5), ("12345678", 5)],
)
def test_s10_check_digit(serial: str, digit: int) -> None:
    """Published examples: AA473124829GB (the S10 worked example), Japan Post EF719215461JP,
    China Post EE994353255CN."""
    assert carriers.s10_check_digit(serial) == digit


def test_a_uk_order_shipped_with_royal_mail_validates() -> None:
    o = _uk_order()
    _ship(o, "royal mail", "aa 473 124 829 gb")
    [shipment] = o.shipments
    assert (shipment.carrier_code, shipment.tracking_number) == ("Royal Mail", "AA473124829GB")
    assert shipment.valid_tracking and shipment.tracking_warning is None


@pytest.mark.parametrize("number", ["1Z999AA10123456784", "123456", "AA473124829US"])
def test_a_wrong_royal_mail_number_is_refused_with_the_format(number: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        _ship(_uk_order(), "Royal Mail", number)
    assert refused.value.field == "tracking_number"
    assert "expected 2 letters, 9 digits and GB, e.g. AA473124829GB" in refused.value.message


def test_a_wrong_s10_check_digit_is_refused_for_any_carrier() -> None:
    for carrier in ("Royal Mail", "Japan Post", "India Post", "Local Courier"):
        with pytest.raises(InvalidInput, match="check digit"):
            _ship(_uk_order(), carrier, "AA473124820GB")


@pytest.mark.parametrize(
    ("carrier", "number"),
    [
        ("Parcelforce", "AA1234567"),
        ("Parcelforce", "AAAA1234567890"),
        ("Parcelforce", "123456789012"),
        ("DHL", "JJD1410302937991"),
        ("DHL-Paket", "00340433836442636597"),
        ("dhl paket", "201298452277"),
        ("Deutsche Post", "RR473124829DE"),
        ("DPD", "01015026003653C"),
        ("Hermes Logistik Gruppe", "09133131530724"),
        ("GLS", "12345678901"),
        ("Evri", "H01ABC1234567890"),
        ("Canada Post", "0073938000549297"),
        ("Japan Post", "EF719215461JP"),
        ("Japan Post", "123456789012"),
        ("yamato", "1234-5678-9012"),
        ("Sagawa", "123456789012"),
        ("India Post", "EE473124829IN"),
        ("Blue Dart", "12345678901"),
        ("La Poste", "6A12345678901"),
        ("PostNL", "3SABCD123456789"),
    ],
)
def test_published_formats_are_accepted_without_warning(carrier: str, number: str) -> None:
    o = _uk_order()
    _ship(o, carrier, number)
    [shipment] = o.shipments
    assert shipment.carrier_code == carriers.canonical(carrier)
    assert shipment.valid_tracking and shipment.tracking_warning is None


@pytest.mark.parametrize(
    ("carrier", "number", "usual"),
    [
        ("YamatoTransport", "ABC12345678", "12 digits"),
        ("Evri", "12345678", "16 letters and digits"),
        ("Canada Post", "ABCDEFGH123456", "16 digits"),
    ],
)
def test_other_numbers_of_unvalidated_carriers_are_accepted_with_a_warning(
    carrier: str, number: str, usual: str
) -> None:
    o = _uk_order()
    _ship(o, carrier, number)
    [shipment] = o.shipments
    assert shipment.tracking_warning is not None and usual in shipment.tracking_warning


def test_a_carrier_without_a_published_format_warns_that_nothing_was_checked() -> None:
    o = _uk_order()
    _ship(o, "SDA", "ABCDEF123456")
    [shipment] = o.shipments
    assert shipment.tracking_warning is not None and "not checked" in shipment.tracking_warning


def test_amazon_spellings() -> None:
    assert [carriers.canonical(c) for c in ("royal mail", "YAMATO", "sagawa", "bluedart")] == [
        "Royal Mail",
        "YamatoTransport",
        "SagawaExpress",
        "BlueDart",
    ]
    assert carriers.canonical("Some Courier") == "Some Courier"
