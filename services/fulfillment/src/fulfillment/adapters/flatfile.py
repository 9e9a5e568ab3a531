"""Amazon's shipment-confirmation flat file (POST_FLAT_FILE_FULFILLMENT_DATA), tab or comma
separated: order-id, order-item-id, quantity, ship-date, carrier-code, carrier-name,
tracking-number, ship-method. Rows of one order with the same tracking number are one package;
a blank order-item-id ships everything still unshipped."""

from __future__ import annotations

import csv
import hashlib
import io
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from fulfillment.domain.errors import UnreadableUpload

REQUIRED = ("order-id", "ship-date", "carrier-code", "tracking-number")


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


def sha256(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


def read_rows(content: bytes) -> list[tuple[int, dict[str, str]]]:
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = content.decode("cp1252", errors="replace")
    lines = text.splitlines()
    if not lines:
        raise UnreadableUpload("The file is empty.")
    delimiter = "\t" if "\t" in lines[0] else ","
    reader = csv.DictReader(io.StringIO(text), delimiter=delimiter)
    header = [h.strip().lower() for h in (reader.fieldnames or [])]
    missing = [c for c in REQUIRED if c not in header]
    if missing:
        raise UnreadableUpload(
            f"Not a shipment-confirmation file: missing columns {', '.join(missing)}."
        )
    reader.fieldnames = header
    return [
        (n, {k: (v or "").strip() for k, v in row.items() if k})
        for n, row in enumerate(reader, start=2)
        if any((v or "").strip() for v in row.values() if isinstance(v, str))
    ]


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


def parse_ship_date(value: str, now: datetime) -> datetime:
    """A date-time (naive = UTC), or a bare date meaning "that day": its last second, but
    never later than now, so a date-only row for today is not "in the future"."""
    text = value.strip()
    if len(text) == 10:
        day = datetime.fromisoformat(text).replace(tzinfo=UTC)
        return min(day + timedelta(days=1, seconds=-1), now)
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
