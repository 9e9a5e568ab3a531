# ruff: noqa: RUF001  (the Turkish dotless i is the point of these strings)
"""Packing slips print any buyer's name and address as written (ADR 0048): the PDF's text,
extracted with pypdf, is compared with the address."""

from __future__ import annotations

import io
import re
import unicodedata
from typing import Any

import pytest
from pypdf import PdfReader

from fulfillment.adapters import packing_slip
from tests.fulfillment.test_domain_unit import order

pytestmark = pytest.mark.unit

ADDRESSES: dict[str, dict[str, str]] = {
    "japanese": {
        "Name": "山田 太郎",
        "AddressLine1": "千代田区千代田1-1",
        "AddressLine2": "パレスサイドビル 5階",
        "City": "東京都",
        "PostalCode": "100-0001",
        "CountryCode": "JP",
    },
    "chinese": {
        "Name": "张伟",
        "AddressLine1": "朝阳区建国路88号",
        "City": "北京市",
        "PostalCode": "100022",
        "CountryCode": "CN",
    },
    "arabic": {
        "Name": "محمد أحمد",
        "AddressLine1": "شارع الملك فهد",
        "City": "الرياض",
        "PostalCode": "12271",
        "CountryCode": "SA",
    },
    "polish": {
        "Name": "Zażółć Gęślą-Jaźń",
        "AddressLine1": "ul. Świętokrzyska 12",
        "City": "Łódź",
        "PostalCode": "90-001",
        "CountryCode": "PL",
    },
    "turkish": {
        "Name": "İsmail Çağlayan Şükrü Öztürk",
        "AddressLine1": "Büyükdere Cd. No:ığ 7",
        "City": "İstanbul",
        "StateOrRegion": "Şişli",
        "PostalCode": "34394",
        "CountryCode": "TR",
    },
}


def _lines(pdf: bytes) -> list[str]:
    """The page's text lines, whitespace collapsed; characters a shaped glyph carries without
    a Unicode mapping (Arabic joining forms, read back as control codes) are dropped."""
    text = PdfReader(io.BytesIO(pdf)).pages[0].extract_text()
    text = "".join(c for c in text if c == "\n" or unicodedata.category(c) != "Cc")
    return [" ".join(line.split()) for line in text.splitlines()]


def _slip(address: dict[str, str]) -> bytes:
    return packing_slip.render(order(), {"shipping_address": address})


@pytest.mark.parametrize("name", ["japanese", "chinese", "polish", "turkish"])
def test_address_prints_as_written(name: str) -> None:
    a = ADDRESSES[name]
    lines = _lines(_slip(a))
    city = " ".join(a[k] for k in ("City", "StateOrRegion", "PostalCode") if k in a)
    expected = [a["Name"], a["AddressLine1"], *filter(None, [a.get("AddressLine2")]), city]
    start = lines.index(a["Name"])
    assert lines[start : start + len(expected) + 1] == [*expected, a["CountryCode"]]


def test_arabic_prints_joined_right_to_left() -> None:
    """Text extractors read a right-to-left line in visual order: the words come back
    right to left, each word's letters in logical order."""
    a = ADDRESSES["arabic"]
    lines = _lines(_slip(a))
    for written in (a["Name"], a["AddressLine1"]):
        assert " ".join(reversed(written.split())) in lines
    assert "12271 الرياض" in lines or "الرياض 12271" in lines


def test_the_fonts_are_embedded_subsets() -> None:
    pdf = _slip(ADDRESSES["japanese"])
    fonts = set(re.findall(rb"/BaseFont /([A-Z]{6}\+[A-Za-z]+)", pdf))
    names = {f.split(b"+")[1] for f in fonts}
    assert b"NotoSans" in names and any(n.startswith(b"NotoSansJP") for n in names)
    assert not any(n.startswith((b"NotoSansSC", b"NotoSansKR", b"NotoSansArabic")) for n in names)
    assert b"/FontFile2" in pdf  # TrueType outlines embedded
    assert len(pdf) < 200_000


def test_chinese_characters_japanese_lacks_come_from_noto_sans_sc() -> None:
    pdf = _slip(ADDRESSES["chinese"])
    assert b"+NotoSansSC" in pdf


def test_a_latin_slip_loads_no_fallback_font() -> None:
    pdf = _slip({"Name": "Ada Lovelace", "AddressLine1": "1200 Elm Street", "City": "Austin"})
    assert b"NotoSansJP" not in pdf and b"NotoSansArabic" not in pdf
    assert "1200 Elm Street" in _lines(pdf)


def test_a_product_title_in_any_script_prints() -> None:
    pdf = packing_slip.render(order(items=[_item("Çay bardağı 6'lı — 茶杯")]), {})
    assert any("Çay bardağı 6'lı — 茶杯" in line for line in _lines(pdf))


def _item(title: str) -> Any:
    from fulfillment.domain.model import Item

    return Item("SKU-1", "B0A", 1, title=title)
