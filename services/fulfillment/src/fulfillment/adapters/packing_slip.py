"""A packing slip as PDF (fpdf2), written uncompressed so its text can be checked."""

from __future__ import annotations

from typing import Any

from fpdf import FPDF

from fulfillment.domain.model import Order


def _text(value: Any) -> str:
    """Core PDF fonts are Latin-1; anything else is replaced, never an error."""
    return str(value or "").encode("latin-1", "replace").decode("latin-1")


def render(order: Order, buyer: dict[str, Any]) -> bytes:
    pdf = FPDF(format="Letter")
    pdf.set_compression(False)
    pdf.set_title(_text(f"Packing slip {order.amazon_order_id}"))
    pdf.add_page()
    pdf.set_font("Helvetica", "B", 16)
    pdf.cell(0, 10, "Packing slip", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", size=11)
    for line in _header(order):
        pdf.cell(0, 6, _text(line), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(4)
    pdf.set_font("Helvetica", "B", 11)
    pdf.cell(0, 6, "Ship to", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", size=11)
    for line in _address(buyer):
        pdf.cell(0, 6, _text(line), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(4)
    _items(pdf, order)
    return bytes(pdf.output())


def _header(order: Order) -> list[str]:
    return [
        f"Order ID: {order.amazon_order_id}",
        f"Order date: {order.purchase_date:%Y-%m-%d}",
        f"Shipping service: {order.ship_service_level or '-'}",
        f"Ship by: {order.latest_ship_date:%Y-%m-%d %H:%M} UTC" if order.latest_ship_date else "",
    ]


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
    pdf.set_font("Helvetica", "B", 10)
    for width, title in ((20, "Qty"), (50, "SKU"), (0, "Product")):
        pdf.cell(
            width,
            7,
            title,
            border="B",
            new_x="RIGHT" if width else "LMARGIN",
            new_y="TOP" if width else "NEXT",
        )
    pdf.set_font("Helvetica", size=10)
    for item in order.items:
        pdf.cell(20, 7, str(item.quantity_ordered))
        pdf.cell(50, 7, _text(item.seller_sku or item.asin))
        pdf.cell(0, 7, _text((item.title or "")[:80]), new_x="LMARGIN", new_y="NEXT")
