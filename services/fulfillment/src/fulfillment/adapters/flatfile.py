"""Amazon's shipment-confirmation flat file (POST_FLAT_FILE_FULFILLMENT_DATA), tab or comma
separated: order-id, order-item-id, quantity, ship-date, carrier-code, carrier-name,
tracking-number, ship-method. Rows of one order with the same tracking number are one package;
a blank order-item-id ships everything still unshipped.

The file is read as ``shared.flatfile`` reads every flat file (text, its shape checked), and
each package's cells are checked against the input policy (``problems``) before anything is
done with them, as the same fields posted as JSON are."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import TypeAdapter, ValidationError

from fulfillment.domain.errors import UnreadableUpload
from shared import flatfile, inputs

REQUIRED = ("order-id", "ship-date", "carrier-code", "tracking-number")
_QUANTITY = re.compile(r"[0-9]{1,6}")
_CELLS: dict[str, TypeAdapter[Any]] = {
    "order-id": TypeAdapter(inputs.AmazonOrderId),
    "carrier-code": TypeAdapter(inputs.CarrierCode),
    "carrier-name": TypeAdapter(inputs.CarrierName),
    "tracking-number": TypeAdapter(inputs.TrackingNumber),
    "ship-method": TypeAdapter(inputs.ShipMethod),
    "order-item-id": TypeAdapter(inputs.OrderItemId),
}


@dataclass(frozen=True)
class Package:
    rows: tuple[int, ...]
    order_id: str
    carrier_code: str
    carrier_name: str | None
    tracking_number: str
    ship_method: str | None
    ship_date: str
    items: tuple[tuple[str, str], ...]  # (order-item-id, quantity) as written


sha256 = flatfile.sha256


def read_rows(content: bytes) -> list[tuple[int, dict[str, str]]]:
    try:
        return flatfile.read_rows(content, required=REQUIRED, kind="a shipment-confirmation file")
    except flatfile.UnreadableFile as exc:
        raise UnreadableUpload(str(exc)) from None


def packages_of(rows: list[tuple[int, dict[str, str]]]) -> list[Package]:
    grouped: dict[tuple[str, str, str], list[tuple[int, dict[str, str]]]] = {}
    for number, row in rows:
        key = (row.get("order-id", ""), row.get("carrier-code", ""), row.get("tracking-number", ""))
        grouped.setdefault(key, []).append((number, row))
    return [_package(group) for group in grouped.values()]


def _package(group: list[tuple[int, dict[str, str]]]) -> Package:
    first = group[0][1]
    return Package(
        rows=tuple(n for n, _ in group),
        order_id=first.get("order-id", ""),
        carrier_code=first.get("carrier-code", ""),
        carrier_name=first.get("carrier-name") or None,
        tracking_number=first.get("tracking-number", ""),
        ship_method=first.get("ship-method") or None,
        ship_date=first.get("ship-date", ""),
        items=tuple((r.get("order-item-id", ""), r.get("quantity", "")) for _, r in group),
    )


def problems(package: Package) -> list[dict[str, str]]:
    """What in the package's cells the input policy refuses, by column (empty: none)."""
    cells: list[tuple[str, str | None]] = [
        ("order-id", package.order_id),
        ("carrier-code", package.carrier_code),
        ("carrier-name", package.carrier_name),
        ("tracking-number", package.tracking_number),
        ("ship-method", package.ship_method),
        *(("order-item-id", item_id or None) for item_id, _ in package.items),
    ]
    found = []
    for column, value in cells:
        try:
            if value is not None or column in REQUIRED:
                _CELLS[column].validate_python(value or "")
        except ValidationError as exc:
            found.append({"field": column, "message": inputs.describe(exc.errors()[0])})
    for _, quantity in package.items:
        if quantity and not (_QUANTITY.fullmatch(quantity) and int(quantity) <= 100_000):
            found.append({"field": "quantity", "message": "must be a whole number to 100000"})
    return found


def parse_ship_date(value: str, now: datetime) -> datetime:
    """A date-time (naive = UTC), or a bare date meaning "that day": its last second, but
    never later than now, so a date-only row for today is not "in the future". Raises
    ``ValueError`` for anything else, or a moment outside the years 1970 to 2099."""
    text = value.strip()
    try:
        if len(text) == 10:
            day = datetime.fromisoformat(text).replace(tzinfo=UTC)
            moment = min(day + timedelta(days=1, seconds=-1), now)
        else:
            moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except OverflowError:
        raise ValueError("out of range") from None
    aware = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    if not inputs.EARLIEST <= aware < inputs.LATEST:
        raise ValueError("out of range")
    return aware
