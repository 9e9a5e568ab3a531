"""Carrier codes and tracking-number formats (Amazon's confirmShipment ``carrierCode``).

Amazon accepts a fixed list of carrier codes (``carrierCode``; anything else is ``Other`` with
a ``carrierName``). The spellings here are Amazon's, from the CarrierCode enumeration of its
feed schema (amzn-base.xsd), as generated into MWS clients (for example
vhqtvn/amazon-mws-psr4, ``FBAFeedsCarrierCodeEnum``: Royal Mail, Parcelforce, DPD,
Hermes Logistik Gruppe, GLS, Deutsche Post, La Poste, Chronopost, Poste Italiane, SDA,
Canada Post, YamatoTransport, SagawaExpress, India Post, BlueDart, Yodel) and the list that
support.getdropstream.com/hc/en-us/articles/12209043626003 took from amzn-base.xsd in
January 2026 (Australia Post, Colissimo, Correos, DHL-Paket, Hermes, Hermes UK). Evri is a
name Amazon returns for UK shipments (docs.rye.com/shippingcarriers). Japan Post and PostNL
are the names Seller Central shows; no schema excerpt seen here confirms them.

Each carrier is checked in one of two ways:

- **validated**: the carrier (or the standard it follows) publishes its formats, and a
  number that fits none is refused with the expected format in the error. UPS, USPS, FedEx,
  Amazon Shipping; Royal Mail (UPU S10 with ``GB``; Royal Mail tracking numbers are always 13
  characters, easypost.com on Royal Mail's codes); Parcelforce
  (parcelforce.com/help-and-advice/sending-worldwide/tracking-number-formats: AA1234567,
  AAAA1234567890, AA123456789GB, 12 digits); DHL and DHL-Paket (dhl.com tracking ID labels:
  Express 10 digits or 000/JJD/JVGL, Parcel 3S/JVGL/JJD, eCommerce GM/LX/RX; DHL Paket 12 or
  20 digits, paketda.de/firmenkunden/paket-pruefziffern.html).
- **accepted with a warning**: no format published by the carrier was found, or its domestic
  formats vary. The usual formats are still known (the warning names them) and the number is
  accepted either way. DPD (14 digits and an optional check character) and Hermes (14 digits),
  paketda.de; GLS (11 or 12 digits); Evri and Hermes UK (16 letters and digits); Canada Post
  (16 digits, parceler.com example 0073938000549297); Yamato and Sagawa (12 digits, the last a
  check digit: syokutyu-arekore.com/entry305.html); Blue Dart (11-digit air waybills); the
  postal operators' international items (S10).

Any number shaped like a UPU S10 identifier (two letters, eight digits, a check digit, an
ISO country code: ``AA473124829GB``) must carry the right check digit, whatever the carrier:
UPU S10 weights 8 6 4 2 3 5 9 7; 11 minus the sum modulo 11, where 10 becomes 0 and 11
becomes 5. Published examples: Japan Post EF719215461JP and China Post EE994353255CN
(yubin.2-d.jp/y4/34.html).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

OTHER = "Other"


@dataclass(frozen=True)
class Format:
    pattern: re.Pattern[str]
    check: Callable[[str], bool] | None = None

    def fits(self, number: str) -> bool:
        return self.pattern.fullmatch(number) is not None and (
            self.check is None or self.check(number)
        )


@dataclass(frozen=True)
class Carrier:
    code: str
    formats: tuple[Format, ...]
    hint: str
    validated: bool


# ---- UPU S10 --------------------------------------------------------------------------------
S10 = re.compile(r"[A-Z]{2}(\d{8})(\d)([A-Z]{2})")
_S10_WEIGHTS = (8, 6, 4, 2, 3, 5, 9, 7)


def s10_check_digit(serial: str) -> int:
    """The S10 check digit of an eight-digit serial number."""
    rest = 11 - sum(int(d) * w for d, w in zip(serial, _S10_WEIGHTS, strict=True)) % 11
    return {10: 0, 11: 5}.get(rest, rest)


def s10_valid(number: str) -> bool:
    match = S10.fullmatch(number)
    return match is not None and s10_check_digit(match[1]) == int(match[2])


def _s10(country: str | None = None) -> Format:
    suffix = country or "[A-Z]{2}"
    return Format(re.compile(rf"[A-Z]{{2}}\d{{9}}{suffix}"), s10_valid)


def _re(pattern: str) -> Format:
    return Format(re.compile(pattern))


_DHL = (
    _re(r"\d{10}|\d{12}|\d{20}"),
    _re(r"(?:000|JJD|JVGL|3S|GM|LX|RX)[0-9A-Z]{7,36}"),
)
_S10_HINT = "2 letters, 9 digits (the last a check digit) and a country code"

_CARRIERS = (
    Carrier("UPS", (_re(r"1Z[0-9A-Z]{16}"),), "1Z followed by 16 letters or digits", True),
    Carrier(
        "USPS",
        (_re(r"\d{20,22}"), _s10("US")),
        "20 to 22 digits, or 2 letters + 9 digits + US",
        True,
    ),
    Carrier("FedEx", (_re(r"\d{12}|\d{15}|\d{20}|\d{22}"),), "12, 15, 20 or 22 digits", True),
    Carrier("Amazon Shipping", (_re(r"TBA\d{12}"),), "TBA followed by 12 digits", True),
    Carrier(
        "DHL",
        _DHL,
        "10, 12 or 20 digits, or JJD, JVGL, 3S, GM, LX, RX or 000 followed by letters or digits",
        True,
    ),
    Carrier("DHL-Paket", _DHL, "12 or 20 digits, or JJD followed by digits", True),
    Carrier("Royal Mail", (_s10("GB"),), "2 letters, 9 digits and GB, e.g. AA473124829GB", True),
    Carrier(
        "Parcelforce",
        (_re(r"[A-Z]{2}\d{7}|[A-Z]{4}\d{10}|\d{12}"), _s10()),
        "2 letters + 7 digits, 4 letters + 10 digits, 12 digits, or 2 letters + 9 digits + GB",
        True,
    ),
    Carrier("DPD", (_re(r"\d{14}[0-9A-Z]?"),), "14 digits (and a check character)", False),
    Carrier("Hermes Logistik Gruppe", (_re(r"\d{14}"),), "14 digits", False),
    Carrier("Hermes", (_re(r"\d{14}"),), "14 digits", False),
    Carrier("GLS", (_re(r"\d{11,12}"),), "11 or 12 digits", False),
    Carrier("Evri", (_re(r"[0-9A-Z]{16}"),), "16 letters and digits", False),
    Carrier("Hermes UK", (_re(r"[0-9A-Z]{16}"),), "16 letters and digits", False),
    Carrier("Deutsche Post", (_s10(),), _S10_HINT, False),
    Carrier("La Poste", (_s10(), _re(r"\d[A-Z]\d{11}")), "13 characters", False),
    Carrier("Colissimo", (_s10(), _re(r"\d[A-Z]\d{11}")), "13 characters", False),
    Carrier("Chronopost", (_s10(),), _S10_HINT, False),
    Carrier("Poste Italiane", (_s10(),), _S10_HINT, False),
    Carrier("SDA", (), "", False),
    Carrier("Correos", (_s10(),), _S10_HINT, False),
    Carrier("PostNL", (_s10(), _re(r"3S[0-9A-Z]{11,13}")), "3S + 11-13 letters/digits", False),
    Carrier("Canada Post", (_re(r"\d{16}"), _s10()), "16 digits", False),
    Carrier("Australia Post", (_s10(),), _S10_HINT, False),
    Carrier("Japan Post", (_re(r"\d{11,12}"), _s10()), "11 or 12 digits", False),
    Carrier("YamatoTransport", (_re(r"\d{12}"),), "12 digits", False),
    Carrier("SagawaExpress", (_re(r"\d{12}"),), "12 digits", False),
    Carrier("India Post", (_s10(),), _S10_HINT, False),
    Carrier("BlueDart", (_re(r"\d{11}"),), "11 digits", False),
    Carrier("Yodel", (), "", False),
)  # fmt: skip
CARRIERS: dict[str, Carrier] = {c.code: c for c in _CARRIERS}
FORMATS = {c.code: c.formats for c in _CARRIERS if c.validated}
FORMAT_HINTS = {c.code: c.hint for c in _CARRIERS}

_ALIASES = {c.code.lower(): c.code for c in _CARRIERS} | {
    "fedex": "FedEx",
    "amazon": "Amazon Shipping",
    "amzl": "Amazon Shipping",
    "other": OTHER,
    "royalmail": "Royal Mail",
    "dhl paket": "DHL-Paket",
    "hermes germany": "Hermes",
    "yamato": "YamatoTransport",
    "yamato transport": "YamatoTransport",
    "sagawa": "SagawaExpress",
    "sagawa express": "SagawaExpress",
    "blue dart": "BlueDart",
    "poste": "Poste Italiane",
}

_PLAUSIBLE = re.compile(r"(?=(?:[^0-9]*[0-9]){6})[0-9A-Z]{8,35}")


def canonical(carrier_code: str) -> str:
    """Amazon's spelling of a known carrier code; other codes are kept as given."""
    code = carrier_code.strip()
    return _ALIASES.get(code.lower(), code)


def normalise_tracking(tracking_number: str) -> str:
    return re.sub(r"[\s-]", "", tracking_number).upper()


def is_known(carrier_code: str) -> bool:
    """A carrier whose formats are validated: a number that fits none is refused."""
    return carrier_code in FORMATS


def refusal(carrier_code: str, tracking_number: str) -> str | None:
    """Why the number cannot be this carrier's, or None: a validated carrier's number that
    fits none of its formats, or any S10-shaped number with a wrong check digit."""
    if S10.fullmatch(tracking_number) and not s10_valid(tracking_number):
        return "not a valid UPU S10 number (the check digit, its 11th character, is wrong)"
    if is_known(carrier_code) and not tracking_valid(carrier_code, tracking_number):
        return f"not a {carrier_code} tracking number (expected {FORMAT_HINTS[carrier_code]})"
    return None


def warning(carrier_code: str, tracking_number: str) -> str | None:
    """What to tell the seller about an accepted number Orderflow could not check."""
    carrier = CARRIERS.get(carrier_code)
    if carrier is None or carrier.validated:
        return None
    if any(f.fits(tracking_number) for f in carrier.formats):
        return None
    if not carrier.formats:
        return f"no published {carrier_code} tracking-number format: the number was not checked"
    return (
        f"does not look like a {carrier_code} tracking number (usually {carrier.hint}); "
        "accepted, but check it"
    )


def tracking_valid(carrier_code: str, tracking_number: str) -> bool:
    """Does the number fit the carrier's format? Carriers without a validated format: best
    effort (one of the carrier's usual formats, any validated carrier's format, or 8-35
    letters/digits with at least 6 digits)."""
    formats = FORMATS.get(carrier_code)
    if formats is not None:
        return any(f.fits(tracking_number) for f in formats)
    if S10.fullmatch(tracking_number):
        return s10_valid(tracking_number)
    known = CARRIERS.get(carrier_code)
    if known is not None and any(f.fits(tracking_number) for f in known.formats):
        return True
    if any(f.fits(tracking_number) for fs in FORMATS.values() for f in fs):
        return True
    return _PLAUSIBLE.fullmatch(tracking_number) is not None
