"""Amazon-style flat files (tab- or comma-separated, a header row), read the same way by every
service that takes them (ingest's order reports, fulfillment's shipment confirmations).

The file must be text: UTF-8 (a BOM allowed) or Windows-1252, with no control character but
tab, carriage return and line feed (a binary file is refused, not parsed). Its shape must hold:
the header names the required columns, and no row has more non-empty fields than the header
has columns. Anything else is ``UnreadableFile`` naming the line; what the cells hold is then
the services' business (they validate each row against the input policy).
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
from collections.abc import Sequence

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
MAX_FIELD = 100_000  # characters in one cell: far above any column's limit


class UnreadableFile(ValueError):
    """The upload is not a readable flat file of the expected kind."""


Rows = list[tuple[int, dict[str, str]]]


def sha256(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


def read_rows(content: bytes, *, required: Sequence[str], kind: str) -> Rows:
    """The file's data rows with their line numbers (the header is line 1); blank rows left
    out, cells stripped, column names lower-cased."""
    text = _decode(content)
    lines = text.splitlines()
    if not lines:
        raise UnreadableFile("The file is empty.")
    control = _CONTROL.search(text)
    if control is not None:
        line = text.count("\n", 0, control.start()) + 1
        code = f"U+{ord(control.group()):04X}"
        raise UnreadableFile(f"Line {line} holds the control character {code}: not a text file.")
    delimiter = "\t" if "\t" in lines[0] else ","
    reader = csv.DictReader(io.StringIO(text), delimiter=delimiter, restkey="\x00extra")
    try:
        return _rows(reader, required, kind)
    except csv.Error as exc:
        raise UnreadableFile(f"Line {reader.line_num}: {exc}.") from None


def _decode(content: bytes) -> str:
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            return content.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise UnreadableFile("The file is neither UTF-8 nor Windows-1252 text.")


def _rows(reader: csv.DictReader[str], required: Sequence[str], kind: str) -> Rows:
    header = [h.strip().lower() for h in (reader.fieldnames or [])]
    missing = [c for c in required if c not in header]
    if missing:
        raise UnreadableFile(f"Not {kind}: missing columns {', '.join(missing)}.")
    reader.fieldnames = header
    rows: Rows = []
    for number, row in enumerate(reader, start=2):
        extra = [v for v in row.pop("\x00extra", None) or [] if v.strip()]
        if extra:
            raise UnreadableFile(
                f"Line {reader.line_num} has {len(header) + len(extra)} fields or more; "
                f"the header has {len(header)} columns."
            )
        cells = {k: (v or "").strip() for k, v in row.items() if k}
        if any(len(v) > MAX_FIELD for v in cells.values()):
            raise UnreadableFile(f"Line {reader.line_num} has a field over {MAX_FIELD} characters.")
        if any(cells.values()):
            rows.append((number, cells))
    return rows
