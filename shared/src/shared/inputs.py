"""The input policy: what every way into Orderflow accepts (``docs/input-policy.md``).

Annotated types for Pydantic models, used at every boundary of the four services: JSON
bodies, upload rows, query parameters, path ids, headers, and the event models a consumer
reads from Kafka. Each type says what a value may be, once:

- identifiers by their published formats (``AmazonOrderId``, ``Asin``, ``MarketplaceId``,
  ``SellerId``) or a conservative character set and length (``Identifier``);
- free text (``Annotated[str, Line(n)]``, ``Prose(n)``): any printable Unicode, never a
  control character (NUL included), a format character (bidi overrides, zero-width
  characters) or a line or paragraph separator, at most a length per field (Amazon's where
  published);
- money (``Amount``) within the ``NUMERIC`` precision every downstream column declares, and
  counters (``Count32``, ``Count64``, ``Quantity``) within their columns' ranges, so that
  nothing accepted can fail when a consumer writes it;
- moments and days (``Moment``, ``Day``) within the years 1970 to 2099, where date arithmetic
  (windows, deadlines, ship-by clocks) cannot overflow.

The checks are constraints pydantic-core runs in Rust (patterns, lengths, bounds): about
0.05 µs a string, so the consumers' decode of every event can afford them. ``describe`` turns
a validation error into a message naming the rule (never echoing the input); ``scrub``
makes refused input safe to store or show (quarantine labels, dead-letter keys).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Annotated, Any, ClassVar, cast

from pydantic import (
    AfterValidator,
    AwareDatetime,
    Field,
    GetCoreSchemaHandler,
    GetJsonSchemaHandler,
    PlainValidator,
    StringConstraints,
    WithJsonSchema,
)
from pydantic_core import core_schema

# ---- text -----------------------------------------------------------------------------------
# Refused in every string: Unicode's control (Cc: NUL, C0, DEL, C1), format (Cf: bidi
# embeddings, overrides and isolates, zero-width space/joiners, BOM, soft hyphen) and line and
# paragraph separators (Zl, Zp). PostgreSQL refuses NUL outright; the others hide or reorder
# what a reader sees. Prose (notes, responses) may also hold tabs and line breaks.
_REFUSED = r"\p{Cc}\p{Cf}\p{Zl}\p{Zp}"
LINE = rf"^[^{_REFUSED}]*$"
PROSE = r"^[^\p{Cf}\p{Zl}\p{Zp}\x00-\x08\x0B\x0C\x0E-\x1F\x7F-\x9F]*$"

# The same rule for the OpenAPI documents, in the regex dialect JSON Schema and Python share
# (no \p{...}): the Basic Multilingual Plane's characters of those categories (Unicode 14).
# The few astral ones (tags, Egyptian format controls) are refused by the Rust pattern above.
_BMP_REFUSED = (
    r"\u00ad\u0600-\u0605\u061c\u06dd\u070f\u0890\u0891\u08e2\u180e\u200b-\u200f"
    r"\u2028-\u202e\u2060-\u2064\u2066-\u206f\ufeff\ufff9-\ufffb"
)
LINE_DOC = rf"^[^\u0000-\u001f\u007f-\u009f{_BMP_REFUSED}]*$"
PROSE_DOC = rf"^[^\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f{_BMP_REFUSED}]*$"

# Every refused character, as Python ranges (``scrub``); ``tests/shared/test_inputs_unit.py``
# checks them against ``unicodedata``.
REFUSED_RANGES: tuple[tuple[int, int], ...] = (
    (0x0000, 0x001F), (0x007F, 0x009F), (0x00AD, 0x00AD), (0x0600, 0x0605),
    (0x061C, 0x061C), (0x06DD, 0x06DD), (0x070F, 0x070F), (0x0890, 0x0891),
    (0x08E2, 0x08E2), (0x180E, 0x180E), (0x200B, 0x200F), (0x2028, 0x202E),
    (0x2060, 0x2064), (0x2066, 0x206F), (0xFEFF, 0xFEFF), (0xFFF9, 0xFFFB),
    (0x110BD, 0x110BD), (0x110CD, 0x110CD), (0x13430, 0x13438), (0x1BCA0, 0x1BCA3),
    (0x1D173, 0x1D17A), (0xE0001, 0xE0001), (0xE0020, 0xE007F),
)  # fmt: skip
_REFUSED_PY = re.compile(
    "[" + "".join(f"{chr(a)}-{chr(b)}" for a, b in REFUSED_RANGES) + "\ud800-\udfff]"
)


@dataclass(frozen=True)
class Line:
    """``Annotated[str, Line(n)]``: one line of printable text, at most ``n`` characters."""

    max_length: int
    min_length: int = 0
    pattern: ClassVar[str] = LINE
    doc: ClassVar[str] = LINE_DOC

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        schema = dict(handler(source))  # {"type": "str"}: the constraints join it
        schema.update(pattern=self.pattern, max_length=self.max_length, min_length=self.min_length)
        return cast(core_schema.CoreSchema, schema)

    def __get_pydantic_json_schema__(
        self, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> dict[str, Any]:
        json_schema = handler(schema)
        json_schema = handler.resolve_ref_schema(json_schema)
        json_schema["pattern"] = self.doc
        if not self.min_length:
            json_schema.pop("minLength", None)
        return json_schema


@dataclass(frozen=True)
class Prose(Line):
    """``Annotated[str, Prose(n)]``: printable text that may hold tabs and line breaks."""

    pattern: ClassVar[str] = PROSE
    doc: ClassVar[str] = PROSE_DOC


def scrub(value: str, limit: int) -> str:
    """Refused input made safe to store or show: refused characters (and lone surrogates)
    become U+FFFD, and it is cut at ``limit`` characters."""
    return _REFUSED_PY.sub("\ufffd", value[:limit])


def is_clean(value: str) -> bool:
    """No refused character (nor lone surrogate) in ``value``: fit for one line of text."""
    return _REFUSED_PY.search(value) is None


# ---- identifiers ----------------------------------------------------------------------------
# [0-9], never \d: both Python's and Rust's \d match every script's digits.
AMAZON_ORDER_ID = r"^[0-9]{3}-[0-9]{7}-[0-9]{7}$"
ASIN = r"^[A-Z0-9]{10}$"
MARKETPLACE_ID = r"^[A-Z0-9]{1,20}$"
SELLER_ID = r"^[A-Z0-9]{1,32}$"
CURRENCY_CODE = r"^[A-Z]{3}$"
COUNTRY_CODE = r"^[A-Z]{2}$"
IDENTIFIER = r"^[A-Za-z0-9][A-Za-z0-9._:-]*$"
# Letters and digits ("a series of letters or digits or both", the Shipping API's TrackingId),
# with the spaces and hyphens people type between groups (fulfillment takes those out).
TRACKING_NUMBER = r"^[A-Za-z0-9][A-Za-z0-9 -]*$"
CORRELATION_ID = r"^[A-Za-z0-9._:-]{1,128}$"
# A client's idempotency key: a UUID is best; any 1 to 255 of the correlation id's characters.
IDEMPOTENCY_KEY = r"^[A-Za-z0-9._:-]{1,255}$"


AmazonOrderId = Annotated[
    str, StringConstraints(pattern=AMAZON_ORDER_ID), Field(description="3-7-7 digits")
]
Asin = Annotated[str, StringConstraints(pattern=ASIN), Field(description="10 capitals or digits")]
MarketplaceId = Annotated[str, StringConstraints(pattern=MARKETPLACE_ID)]
SellerId = Annotated[str, StringConstraints(pattern=SELLER_ID)]
CurrencyCode = Annotated[str, StringConstraints(pattern=CURRENCY_CODE)]
CountryCode = Annotated[str, StringConstraints(pattern=COUNTRY_CODE)]
CorrelationId = Annotated[str, StringConstraints(pattern=CORRELATION_ID)]
# An id of a conservative shape: a letter or digit, then letters, digits, '.', '_', ':' or '-'
# (no '/', no space, no '..' path), at most 64 characters.
Identifier = Annotated[str, StringConstraints(pattern=IDENTIFIER, min_length=1, max_length=64)]
OrderItemId = Identifier
# An order id as a client may type it to look something up (a filter, the trace): one line of
# printable text. A malformed id is worth looking up: ingest's quarantine holds such orders.
OrderIdLookup = Annotated[str, Line(64, min_length=1)]

# ---- free text, per field -------------------------------------------------------------------
# Amazon's published limits where there are some (SP-API models, amzn/selling-partner-api-
# models): [SHIP] Shipping API v1 Address, [INB] Fulfillment Inbound v2024-03-20, [MFN]
# Merchant Fulfillment v0, [FOB] Fulfillment Outbound 2020-07-01. "ours" where Amazon publishes
# none: each above anything Amazon sends. The table with the reasons: docs/input-policy.md.
SellerSku = Annotated[str, Line(255, min_length=1)]  # [INB] msku
SellerOrderId = Annotated[str, Line(64)]  # [MFN] SellerOrderId
ProductTitle = Annotated[str, Line(500)]  # ours; Amazon's title rule: 200 characters
Code = Annotated[str, Line(100)]  # ours: Amazon's enumerations, channel and service names
Reason = Annotated[str, Line(500)]  # ours: a reason of one line
PersonName = Annotated[str, Line(50)]  # [SHIP] Address.name
CompanyName = Annotated[str, Line(100)]  # ours
AddressLine = Annotated[str, Line(60)]  # [SHIP] Address.addressLine1-3
City = Annotated[str, Line(50)]  # [SHIP] City
Region = Annotated[str, Line(150)]  # [FOB] TrackingAddress.state
PostalCode = Annotated[str, Line(20)]  # [SHIP] PostalCode
Phone = Annotated[str, Line(20)]  # [SHIP] Address.phoneNumber
Email = Annotated[str, Line(64)]  # [SHIP] Address.email
CarrierCode = Annotated[str, Line(64, min_length=1)]  # ours
CarrierName = Annotated[str, Line(100)]  # ours
ShipMethod = Annotated[str, Line(100)]  # ours
TrackingNumber = Annotated[  # [INB] trackingId maxLength 64
    str, StringConstraints(pattern=TRACKING_NUMBER, min_length=1, max_length=64)
]
CampaignName = Annotated[str, Line(256)]  # ours
Filename = Annotated[str, Line(255)]  # ours: what file systems hold
EventSubject = Annotated[str, Line(512, min_length=1)]  # ours: seller:date:campaign:sku

# ---- numbers ---------------------------------------------------------------------------------
# Money columns: NUMERIC(18, 2) in defects (claims, orders), NUMERIC(18, 4) in analytics
# (orders, items, ads). Both hold 14 integer digits; 4 decimal places is the finer scale.
MONEY_INTEGER_DIGITS = 14
MONEY_SCALE = 4
MONEY_LIMIT = Decimal(10) ** MONEY_INTEGER_DIGITS
MONEY_DOC = rf"^[0-9]{{1,{MONEY_INTEGER_DIGITS}}}(\.[0-9]{{1,{MONEY_SCALE}}})?$"
INT32_MAX = 2**31 - 1  # PostgreSQL integer
INT64_MAX = 2**63 - 1  # PostgreSQL bigint
MAX_QUANTITY = 100_000  # ours: a line of an order; 1,000 lines of it stay within integer


def _amount(value: Any) -> Decimal:
    """A decimal string (or a whole number), as Amazon sends money, never a float: finite, not
    negative, at most 14 digits before the point and 4 after (one Python step: the input
    path of every order goes through it a dozen times)."""
    if isinstance(value, bool) or not isinstance(value, str | int | Decimal):
        raise ValueError('must be a decimal string such as "19.99"')
    try:
        number = Decimal(value.strip() if isinstance(value, str) else value)
    except ArithmeticError:
        raise ValueError('must be a decimal string such as "19.99"') from None
    if not number.is_finite():
        raise ValueError("must be a finite decimal number")
    if number < 0:
        raise ValueError("must not be negative")
    if number >= MONEY_LIMIT:
        raise ValueError(f"must be less than {MONEY_LIMIT} (the money columns' precision)")
    exponent = number.as_tuple().exponent
    if isinstance(exponent, int) and exponent < -MONEY_SCALE:
        number = number.normalize()  # 1.50000 is 1.5
        exponent = number.as_tuple().exponent
        if isinstance(exponent, int) and exponent < -MONEY_SCALE:
            raise ValueError(f"must have at most {MONEY_SCALE} decimal places")
    return number if isinstance(exponent, int) and exponent <= 0 else number + 0


Amount = Annotated[
    Decimal,
    PlainValidator(_amount),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": MONEY_DOC,
            "description": f"decimal string, at most {MONEY_INTEGER_DIGITS} digits before "
            f'the point and {MONEY_SCALE} after, e.g. "19.99"',
        }
    ),
]
# Money as it travels in events (read by consumers): within the columns, either sign (their
# scale rounds finer places; only a value past the precision fails).
EventAmount = Annotated[Decimal, Field(gt=-MONEY_LIMIT, lt=MONEY_LIMIT)]
Count32 = Annotated[int, Field(ge=0, le=INT32_MAX)]
Count64 = Annotated[int, Field(ge=0, le=INT64_MAX)]
Quantity = Annotated[int, Field(ge=0, le=MAX_QUANTITY)]
PositiveQuantity = Annotated[int, Field(ge=1, le=MAX_QUANTITY)]
Version = Annotated[int, Field(ge=0, le=INT64_MAX)]

# ---- moments --------------------------------------------------------------------------------
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)  # Amazon's own sandbox orders date from 1970
LATEST = datetime(2100, 1, 1, tzinfo=UTC)  # excluded
Moment = Annotated[AwareDatetime, Field(ge=EARLIEST, lt=LATEST)]
Day = Annotated[date, Field(ge=EARLIEST.date(), lt=LATEST.date())]


def _utc_within(moment: datetime) -> datetime:
    aware = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    if not EARLIEST <= aware < LATEST:
        raise ValueError("must be in the years 1970 to 2099")
    return aware


# A query's moment: a time zone is optional (UTC is meant without one).
QueryMoment = Annotated[datetime, AfterValidator(_utc_within)]

# ---- messages -------------------------------------------------------------------------------
_MESSAGES = {
    LINE: "must be one line of printable text: no control (NUL included), format (bidi, "
    "zero-width) or line-separator characters",
    PROSE: "must be printable text: no control (NUL included), format (bidi, zero-width) or "
    "line-separator characters; tabs and line breaks are allowed",
    AMAZON_ORDER_ID: "must be an AmazonOrderId: 3-7-7 digits, e.g. 113-4567890-1234567",
    ASIN: "must be an ASIN: 10 capital letters or digits",
    MARKETPLACE_ID: "must be a marketplace id: 1 to 20 capital letters or digits",
    SELLER_ID: "must be a seller id: 1 to 32 capital letters or digits",
    CURRENCY_CODE: "must be an ISO 4217 currency code, e.g. USD",
    COUNTRY_CODE: "must be an ISO 3166-1 alpha-2 country code, e.g. US",
    IDENTIFIER: "must be letters, digits, '.', '_', ':' or '-', starting with a letter or digit",
    TRACKING_NUMBER: "must be letters and digits (spaces and hyphens between them allowed)",
    CORRELATION_ID: "must be 1 to 128 letters, digits, '.', '_', ':' or '-'",
}


def describe(error: Any) -> str:
    """A pydantic error's message, naming the policy's rule where one was broken; never the
    input itself."""
    if error.get("type") == "string_pattern_mismatch":
        pattern = (error.get("ctx") or {}).get("pattern")
        if pattern in _MESSAGES:
            return _MESSAGES[pattern]
    if error.get("type") == "string_unicode":
        return "must be valid Unicode text (no lone surrogates)"
    ctx = error.get("ctx") or {}
    if error.get("type") == "string_too_long":
        return f"must be at most {ctx.get('max_length')} characters"
    if error.get("type") == "string_too_short":
        least = ctx.get("min_length")
        return "must not be empty" if least == 1 else f"must be at least {least} characters long"
    bound = _BOUNDS.get(str(error.get("type")))
    if bound is not None:
        value = next(iter((error.get("ctx") or {"": ""}).values()))
        return f"must be {bound} {value}"
    return str(error.get("msg", "invalid")).removeprefix("Value error, ")


_BOUNDS = {
    "less_than": "less than",
    "less_than_equal": "at most",
    "greater_than": "greater than",
    "greater_than_equal": "at least",
}


def field_errors(errors: Any, *, prefix: tuple[str, ...] = ()) -> list[dict[str, str]]:
    """Pydantic's errors as ``{field, message, type}``: the dotted field, the rule it broke."""
    out = []
    for error in errors:
        location = [*prefix, *(str(p) for p in error.get("loc", ()))]
        out.append(
            {
                "field": scrub(".".join(location), 200) or "body",
                "message": describe(error),
                "type": str(error.get("type", "")),
            }
        )
    return out


def summary(errors: list[dict[str, Any]], limit: int = 1000) -> str:
    """``field: message; ...``: a problem's ``detail`` naming every field at fault."""
    return "; ".join(f"{e['field']}: {e['message']}" for e in errors)[:limit]
