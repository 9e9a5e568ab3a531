"""Ad recommendations and the trace's diagnosis rules, on hand-made facts (no I/O)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from analytics.domain.advice import AdFigures, recommend
from analytics.domain.diagnosis import KnownOrder, TraceFacts, diagnose

pytestmark = pytest.mark.unit

NOW = datetime(2026, 6, 30, 12, tzinfo=UTC)
SELLER = "A2SELLER1EXAMPLE"
JP = "A1VC38T7YXB528"


def test_ratios_and_recommendations_when_ads_dominate() -> None:
    figures = AdFigures(
        attributed_orders=7,
        total_orders=10,
        spend=Decimal("30.00"),
        attributed_sales=Decimal("120.00"),
        total_sales=Decimal("200.00"),
    )
    assert (figures.ad_order_ratio, figures.acos, figures.tacos) == (
        Decimal("0.7000"),
        Decimal("0.2500"),
        Decimal("0.1500"),
    )
    advice = recommend(figures, Decimal("0.6"))
    assert [r.code for r in advice] == [
        "shift_ad_spend",
        "drive_non_ad_traffic",
        "improve_listing_keywords",
    ]
    assert advice[0].evidence["ad_order_ratio"] == "0.7000"
    assert advice[0].evidence["organic_orders"] == 3
    assert recommend(figures, Decimal("0.7")) == []  # equal to the threshold is not "too high"


def test_no_ratio_without_orders() -> None:
    figures = AdFigures(0, 0, Decimal("5"), Decimal("0"), Decimal("0"))
    assert (figures.ad_order_ratio, figures.acos, figures.tacos) == (None, None, None)
    assert recommend(figures, Decimal("0.6")) == []


def _known(**kw: object) -> KnownOrder:
    base: dict[str, object] = {
        "seller_id": SELLER,
        "order_status": "Unshipped",
        "purchase_date": NOW - timedelta(days=1),
        "marketplace_id": "ATVPDKIKX0DER",
    }
    return KnownOrder(**(base | kw))  # type: ignore[arg-type]


def _codes(**kw: object) -> list[str]:
    base: dict[str, object] = {"amazon_order_id": "111-0000000-0000001", "now": NOW}
    facts = TraceFacts(**(base | {"viewer_seller": SELLER} | kw))  # type: ignore[arg-type]
    return [f.code for f in diagnose(facts)]


def test_a_healthy_order_has_no_finding() -> None:
    assert _codes(at_ingest=_known(), in_read_model=_known(), events_seen=1) == []


def test_never_received() -> None:
    assert _codes() == ["never_received"]
    assert _codes(ingest_reachable=False) == []  # cannot tell while ingest is down


def test_rejected_as_bad_input_gives_the_reasons() -> None:
    facts = TraceFacts(
        amazon_order_id="x",
        now=NOW,
        viewer_seller=SELLER,
        quarantine_reasons=("PurchaseDate: Field required",),
    )
    [finding] = diagnose(facts)
    assert finding.code == "rejected_as_bad_input"
    assert "PurchaseDate: Field required" in finding.message


def test_pending_hidden_and_older_than_default_view() -> None:
    assert _codes(at_ingest=_known(order_status="Pending")) == ["pending_hidden"]
    old = _known(purchase_date=NOW - timedelta(days=8))
    assert _codes(at_ingest=old) == ["older_than_default_view"]
    # NOW is 05:00 on June 30 in Seattle: the view holds June 24 to 30, from 07:00 UTC on the 24th
    first_day = _known(purchase_date=datetime(2026, 6, 24, 7, tzinfo=UTC))
    assert _codes(at_ingest=first_day) == []
    day_before = _known(purchase_date=datetime(2026, 6, 24, 6, 59, tzinfo=UTC))
    assert _codes(at_ingest=day_before) == ["older_than_default_view"]  # within 168 hours
    # the same moment is already June 24 in Tokyo (15:59 there): inside Tokyo's view
    tokyo = _known(purchase_date=datetime(2026, 6, 24, 6, 59, tzinfo=UTC), marketplace_id=JP)
    assert _codes(at_ingest=tokyo) == []


def test_other_seller_reveals_nothing_else() -> None:
    foreign = _known(seller_id="A9SOMEONEELSE", order_status="Pending")
    facts = TraceFacts(amazon_order_id="x", now=NOW, viewer_seller=SELLER, at_ingest=foreign)
    [finding] = diagnose(facts)
    assert finding.code == "other_seller_or_marketplace"
    assert "not under this seller" in finding.message
    assert "A9SOMEONEELSE" not in finding.message and finding.details == {}
    assert _codes(viewer_seller=None, at_ingest=foreign) == ["pending_hidden"]  # ops sees all


def test_other_marketplace_than_asked() -> None:
    assert _codes(at_ingest=_known(), asked_marketplace="A1F83G8C2ARO7P") == [
        "other_seller_or_marketplace"
    ]
    assert _codes(at_ingest=_known(), asked_marketplace="ATVPDKIKX0DER") == []


def test_stuck_in_dead_letter_queue_and_consumer_lagging() -> None:
    assert _codes(at_ingest=_known(), dead_letters=2) == ["stuck_in_dead_letter_queue"]
    assert _codes(at_ingest=_known(), unconsumed_events=1, total_lag=1) == ["consumer_lagging"]
    assert _codes(at_ingest=_known(), total_lag=500, lag_threshold=100) == ["consumer_lagging"]
    assert _codes(at_ingest=_known(), total_lag=5, lag_threshold=100) == []
