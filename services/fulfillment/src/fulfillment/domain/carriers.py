"""Carrier codes and tracking-number formats (Amazon's confirmShipment ``carrierCode``)."""

from __future__ import annotations

import re

OTHER = "Other"

_ALIASES = {
    "ups": "UPS",
    "usps": "USPS",
    "fedex": "FedEx",
    "dhl": "DHL",
    "amazon shipping": "Amazon Shipping",
    "amazon": "Amazon Shipping",
    "amzl": "Amazon Shipping",
    "other": OTHER,
}

FORMATS: dict[str, re.Pattern[str]] = {
    "UPS": re.compile(r"1Z[0-9A-Z]{16}"),
    "USPS": re.compile(r"\d{20,22}|[A-Z]{2}\d{9}US"),
    "FedEx": re.compile(r"\d{12}|\d{15}|\d{20}|\d{22}"),
    "DHL": re.compile(r"\d{10}"),
    "Amazon Shipping": re.compile(r"TBA\d{12}"),
}

FORMAT_HINTS = {
    "UPS": "1Z followed by 16 letters or digits",
    "USPS": "20 to 22 digits, or 2 letters + 9 digits + US",
    "FedEx": "12, 15, 20 or 22 digits",
    "DHL": "10 digits",
    "Amazon Shipping": "TBA followed by 12 digits",
}

_PLAUSIBLE = re.compile(r"(?=(?:[^0-9]*[0-9]){6})[0-9A-Z]{8,35}")


def canonical(carrier_code: str) -> str:
    """Amazon's spelling of a known carrier code; other codes are kept as given."""
    code = carrier_code.strip()
    return _ALIASES.get(code.lower(), code)


def normalise_tracking(tracking_number: str) -> str:
    return re.sub(r"[\s-]", "", tracking_number).upper()


def is_known(carrier_code: str) -> bool:
    return carrier_code in FORMATS


def tracking_valid(carrier_code: str, tracking_number: str) -> bool:
    """Does the number fit the carrier's format? Unknown carriers: best effort (any known
    carrier's format, or 8-35 letters/digits with at least 6 digits)."""
    pattern = FORMATS.get(carrier_code)
    if pattern is not None:
        return pattern.fullmatch(tracking_number) is not None
    if any(p.fullmatch(tracking_number) for p in FORMATS.values()):
        return True
    return _PLAUSIBLE.fullmatch(tracking_number) is not None
