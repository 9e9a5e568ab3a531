"""The marketplace table against Amazon's published SP-API marketplace ids."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime

import pytest

from shared import inputs, marketplaces
from shared.marketplaces import MARKETPLACES

pytestmark = pytest.mark.unit

# Amazon's list (developer-docs.amazon.com/sp-api/docs/marketplace-ids), country code to id.
PUBLISHED = {
    "CA": "A2EUQ1WTGCTBG2",
    "US": "ATVPDKIKX0DER",
    "MX": "A1AM78C64UM0Y8",
    "BR": "A2Q3Y263D00KWC",
    "IE": "A28R8C7NBKEWEA",
    "ES": "A1RKKUPIHCS9HS",
    "UK": "A1F83G8C2ARO7P",
    "FR": "A13V1IB3VIYZZH",
    "BE": "AMEN7PMS3EDWL",
    "NL": "A1805IZSGTT6HS",
    "DE": "A1PA6795UKMFR9",
    "IT": "APJ6JRA9NG5V4",
    "SE": "A2NODRKZP88ZB9",
    "ZA": "AE08WJ6YKNBMC",
    "PL": "A1C3SOZRARQ6R3",
    "EG": "ARBP9OOSHTCHU",
    "TR": "A33AVAJ2PDY3EV",
    "SA": "A17E79C6D8DWNP",
    "AE": "A2VIGQ35RCS4UG",
    "IN": "A21TJRUUN4KGV",
    "SG": "A19VAU5U5O7RUS",
    "AU": "A39IBJ37TRP1C6",
    "JP": "A1VC38T7YXB528",
}


def test_every_published_id_is_in_the_table_under_its_country() -> None:
    assert {m.country_code: m.marketplace_id for m in MARKETPLACES.values()} == PUBLISHED


def test_ids_pass_the_input_pattern_and_zones_load() -> None:
    for market in MARKETPLACES.values():
        assert re.fullmatch(inputs.MARKETPLACE_ID, market.marketplace_id)
        assert datetime(2026, 6, 1, tzinfo=UTC).astimezone(market.zone).tzname()
        assert len(market.currency_code) == 3 and market.currency_code.isupper()


def test_currency_and_zone_of_a_few_marketplaces() -> None:
    assert marketplaces.currency_of("ATVPDKIKX0DER") == "USD"
    assert marketplaces.currency_of("A1PA6795UKMFR9") == "EUR"
    assert marketplaces.currency_of("A1F83G8C2ARO7P") == "GBP"
    assert marketplaces.currency_of("A1VC38T7YXB528") == "JPY"
    assert marketplaces.currency_of("unknown") is None
    assert marketplaces.currency_of(None) is None
    japan = marketplaces.by_id("A1VC38T7YXB528")
    assert japan is not None and japan.time_zone == "Asia/Tokyo"


def test_a_moment_falls_on_the_marketplace_s_calendar_day() -> None:
    late_evening_in_seattle = datetime(2026, 6, 2, 3, tzinfo=UTC)  # 20:00 PDT on June 1
    assert marketplaces.local_date(late_evening_in_seattle, "ATVPDKIKX0DER") == date(2026, 6, 1)
    assert marketplaces.local_date(late_evening_in_seattle, "A1VC38T7YXB528") == date(2026, 6, 2)
    assert marketplaces.local_date(late_evening_in_seattle, None) == date(2026, 6, 2)
    sydney_morning = datetime(2026, 1, 1, 13, 30, tzinfo=UTC)  # 00:30 AEDT on January 2
    assert marketplaces.local_date(sydney_morning, "A39IBJ37TRP1C6") == date(2026, 1, 2)


def test_the_day_slack_covers_every_marketplace_offset() -> None:
    for moment in (datetime(2026, 1, 15, tzinfo=UTC), datetime(2026, 7, 15, tzinfo=UTC)):
        for market in MARKETPLACES.values():
            offset = moment.astimezone(market.zone).utcoffset()
            assert offset is not None and abs(offset) <= marketplaces.DAY_SLACK
