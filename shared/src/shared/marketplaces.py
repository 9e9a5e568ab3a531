"""Amazon's marketplaces as contract data: id, country, currency and the time zone of its days.

Ids are Amazon's published SP-API marketplace ids
(https://developer-docs.amazon.com/sp-api/docs/marketplace-ids; the country code is Amazon's,
so the United Kingdom is ``UK``). The currency is the one the marketplace sells and reports
ads in. The time zone is the one Amazon Ads dates its reports in for that marketplace
(the advertising profile's ``timezone``), which is also the seller's calendar day there;
where Amazon publishes none, the country's own zone.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo


@dataclass(frozen=True)
class Marketplace:
    marketplace_id: str
    country_code: str
    country: str
    currency_code: str
    time_zone: str  # IANA name

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.time_zone)


_ROWS = (
    # North America
    ("A2EUQ1WTGCTBG2", "CA", "Canada", "CAD", "America/Los_Angeles"),
    ("ATVPDKIKX0DER", "US", "United States of America", "USD", "America/Los_Angeles"),
    ("A1AM78C64UM0Y8", "MX", "Mexico", "MXN", "America/Los_Angeles"),
    ("A2Q3Y263D00KWC", "BR", "Brazil", "BRL", "America/Sao_Paulo"),
    # Europe
    ("A28R8C7NBKEWEA", "IE", "Ireland", "EUR", "Europe/Dublin"),
    ("A1RKKUPIHCS9HS", "ES", "Spain", "EUR", "Europe/Paris"),
    ("A1F83G8C2ARO7P", "UK", "United Kingdom", "GBP", "Europe/London"),
    ("A13V1IB3VIYZZH", "FR", "France", "EUR", "Europe/Paris"),
    ("AMEN7PMS3EDWL", "BE", "Belgium", "EUR", "Europe/Brussels"),
    ("A1805IZSGTT6HS", "NL", "Netherlands", "EUR", "Europe/Amsterdam"),
    ("A1PA6795UKMFR9", "DE", "Germany", "EUR", "Europe/Paris"),
    ("APJ6JRA9NG5V4", "IT", "Italy", "EUR", "Europe/Paris"),
    ("A2NODRKZP88ZB9", "SE", "Sweden", "SEK", "Europe/Stockholm"),
    ("AE08WJ6YKNBMC", "ZA", "South Africa", "ZAR", "Africa/Johannesburg"),
    ("A1C3SOZRARQ6R3", "PL", "Poland", "PLN", "Europe/Warsaw"),
    ("ARBP9OOSHTCHU", "EG", "Egypt", "EGP", "Africa/Cairo"),
    ("A33AVAJ2PDY3EV", "TR", "Turkey", "TRY", "Europe/Istanbul"),
    ("A17E79C6D8DWNP", "SA", "Saudi Arabia", "SAR", "Asia/Riyadh"),
    ("A2VIGQ35RCS4UG", "AE", "United Arab Emirates", "AED", "Asia/Dubai"),
    ("A21TJRUUN4KGV", "IN", "India", "INR", "Asia/Kolkata"),
    # Far East
    ("A19VAU5U5O7RUS", "SG", "Singapore", "SGD", "Asia/Singapore"),
    ("A39IBJ37TRP1C6", "AU", "Australia", "AUD", "Australia/Sydney"),
    ("A1VC38T7YXB528", "JP", "Japan", "JPY", "Asia/Tokyo"),
)

# Every marketplace's day starts within this of UTC's (offsets run from -8 to +11 hours): a
# query by UTC moments widened by it holds every order of the marketplaces' calendar days.
DAY_SLACK = timedelta(hours=14)

MARKETPLACES: dict[str, Marketplace] = {row[0]: Marketplace(*row) for row in _ROWS}


def by_id(marketplace_id: str | None) -> Marketplace | None:
    """The marketplace with Amazon's id ``marketplace_id``; ``None`` for an unknown id."""
    return MARKETPLACES.get(marketplace_id or "")


def currency_of(marketplace_id: str | None) -> str | None:
    """The currency the marketplace sells in; ``None`` for an unknown id."""
    found = by_id(marketplace_id)
    return found.currency_code if found else None


def local_date(moment: datetime, marketplace_id: str | None) -> date:
    """The calendar day of ``moment`` in the marketplace's time zone (UTC for an unknown id)."""
    found = by_id(marketplace_id)
    return moment.astimezone(found.zone if found else UTC).date()
