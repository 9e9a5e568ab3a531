"""A packing slip as PDF (fpdf2), written uncompressed so its text can be checked.

Every character prints as written, in any script (``docs/adr/0048-unicode-packing-slips.md``):
Noto Sans (Latin, Greek, Cyrillic, Vietnamese), with Noto Sans Arabic and Noto Sans JP, SC
and KR as fallbacks, embedded as subsets; text shaping (HarfBuzz) joins Arabic letters and
lays right-to-left runs out right to left. A fallback font is loaded only when the slip holds a
character that only it has, so a Latin-only slip does not parse the CJK fonts.
"""

from __future__ import annotations

import functools
from importlib.resources import files
from pathlib import Path
from typing import Any

import fontpkg_noto_sans
import fontpkg_noto_sans_arabic
from fontTools.ttLib import TTFont
from fpdf import FPDF

from fulfillment.domain.model import Order

FAMILY = "NotoSans"
_LATIN = fontpkg_noto_sans.ROOT / "files" / "NotoSans[wdth,wght].ttf"
_ARABIC = fontpkg_noto_sans_arabic.ROOT / "files" / "NotoSansArabic[wdth,wght].ttf"
_CJK = Path(str(files("justmytype_intl_cjk").joinpath("fonts", "ofl")))
# Fallbacks in the order fpdf2 tries them: Japanese forms first (kana, kanji), then the
# simplified Chinese characters Japanese lacks, then Hangul.
_FALLBACKS: tuple[tuple[str, Path], ...] = (
    ("NotoSansArabic", _ARABIC),
    ("NotoSansJP", _CJK / "notosansjp" / "NotoSansJP[wght].ttf"),
    ("NotoSansSC", _CJK / "notosanssc" / "NotoSansSC[wght].ttf"),
    ("NotoSansKR", _CJK / "notosanskr" / "NotoSansKR[wght].ttf"),
)


def render(order: Order, buyer: dict[str, Any]) -> bytes:
    header, address = _header(order), _address(buyer)
    items = [(i.seller_sku or i.asin or "", (i.title or "")[:80]) for i in order.items]
    pdf = _document("".join([*header, *address, *(s + t for s, t in items)]))
    pdf.set_title(f"Packing slip {order.amazon_order_id}")
    pdf.add_page()
    _line(pdf, "Packing slip", style="B", size=16, height=10)
    for line in header:
        _line(pdf, line)
    pdf.ln(4)
    _line(pdf, "Ship to", style="B")
    for line in address:
        _line(pdf, line)
    pdf.ln(4)
    _items(pdf, order)
    return bytes(pdf.output())


def _document(text: str) -> FPDF:
    pdf = FPDF(format="Letter")
    pdf.set_compression(False)
    # The variable fonts' default instances (no instancing: it costs seconds a slip).
    pdf.add_font(FAMILY, "", _LATIN)
    pdf.add_font(FAMILY, "B", _LATIN)
    used = _fallbacks(text)
    for name, path in used:
        pdf.add_font(name, "", path)
    if used:
        pdf.set_fallback_fonts([name for name, _ in used], exact_match=False)
    pdf.set_text_shaping(True)
    return pdf


def _fallbacks(text: str) -> list[tuple[str, Path]]:
    """The fallback fonts the text needs: for each character Noto Sans lacks, the first
    fallback that has it. Reading a font's character map takes a fraction of a second and is
    done once per process; parsing the whole font (what fpdf2 does) takes seconds."""
    missing = {ord(c) for c in text} - _coverage(_LATIN)
    used = []
    for name, path in _FALLBACKS:
        covered = missing & _coverage(path)
        if covered:
            used.append((name, path))
            missing -= covered
    return used


@functools.cache
def _coverage(path: Path) -> frozenset[int]:
    with TTFont(str(path), lazy=True) as font:
        return frozenset(font.getBestCmap())


def _line(pdf: FPDF, text: str, *, style: str = "", size: int = 11, height: int = 6) -> None:
    """One line of text. Each line is its own graphics state: fpdf2 wraps a line that ends in
    a fallback font in q/Q, which would drop the page's font for the lines after it."""
    with pdf.local_context():
        pdf.set_font(FAMILY, style, size)
        pdf.cell(0, height, text, new_x="LMARGIN", new_y="NEXT")


def _header(order: Order) -> list[str]:
    lines = [
        f"Order ID: {order.amazon_order_id}",
        f"Order date: {order.purchase_date:%Y-%m-%d}",
        f"Shipping service: {order.ship_service_level or '-'}",
    ]
    if order.latest_ship_date:
        lines.append(f"Ship by: {order.latest_ship_date:%Y-%m-%d %H:%M} UTC")
    return lines


def _address(buyer: dict[str, Any]) -> list[str]:
    address = buyer.get("shipping_address") or {}
    city_line = " ".join(
        str(p)
        for p in (address.get("City"), address.get("StateOrRegion"), address.get("PostalCode"))
        if p
    )
    lines = [
        address.get("Name") or buyer.get("buyer_name"),
        address.get("AddressLine1"),
        address.get("AddressLine2"),
        address.get("AddressLine3"),
        city_line,
        address.get("CountryCode"),
    ]
    return [str(x) for x in lines if x] or ["(no shipping address on the order)"]


def _items(pdf: FPDF, order: Order) -> None:
    with pdf.local_context():
        pdf.set_font(FAMILY, "B", 10)
        for width, title in ((20, "Qty"), (50, "SKU"), (0, "Product")):
            last = width == 0
            pdf.cell(width, 7, title, border="B", new_x="LMARGIN" if last else "RIGHT",
                     new_y="NEXT" if last else "TOP")  # fmt: skip
    for item in order.items:
        with pdf.local_context():
            pdf.set_font(FAMILY, "", 10)
            pdf.cell(20, 7, str(item.quantity_ordered))
            pdf.cell(50, 7, item.seller_sku or item.asin or "")
            pdf.cell(0, 7, (item.title or "")[:80], new_x="LMARGIN", new_y="NEXT")
