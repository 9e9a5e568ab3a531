"""A range of days cut into whole months, whole weeks and the days around them
(``adapters.daily_sales.segments``, docs/adr/0060): the pieces cover the range exactly once,
each coarse piece holds whole buckets of its grain, and a run of days is shorter than two
weeks (a whole week would lie inside it)."""

from __future__ import annotations

import random
from datetime import date, timedelta

import pytest

from analytics.adapters.daily_sales import segments

pytestmark = pytest.mark.unit


def _days(lo: date, hi: date) -> list[date]:
    return [lo + timedelta(days=n) for n in range((hi - lo).days)]


@pytest.mark.parametrize("period", ["day", "week", None])
def test_pieces_cover_the_range_once_in_whole_buckets(period: str | None) -> None:
    rng = random.Random(period or "all")
    ranges = [(date(2026, 1, 1), date(2026, 12, 31)), (date(2026, 3, 2), date(2026, 3, 8))]
    for _ in range(400):
        start = date(2025, 11, 1) + timedelta(days=rng.randint(0, 500))
        ranges.append((start, start + timedelta(days=rng.randint(0, 366))))
    for start, end in ranges:
        pieces = segments(period, start, end)
        covered = [d for _, lo, hi in pieces for d in _days(lo, hi)]
        assert covered == _days(start, end + timedelta(days=1)), (start, end)
        for grain, lo, hi in pieces:
            if grain == "/month":
                assert lo.day == 1 and hi.day == 1 and period is None
            elif grain == "/week":
                assert lo.weekday() == 0 and hi.weekday() == 0 and period != "day"
            else:
                assert grain == ""
                assert period == "day" or (hi - lo).days <= 12, (start, end, pieces)
        if period is None and (end - start).days >= 62:
            assert any(grain == "/month" for grain, _, _ in pieces)


def test_a_whole_year_reads_twelve_months() -> None:
    assert segments(None, date(2026, 1, 1), date(2026, 12, 31)) == [
        ("/month", date(2026, 1, 1), date(2027, 1, 1))
    ]
    assert segments("day", date(2026, 1, 1), date(2026, 1, 1)) == [
        ("", date(2026, 1, 1), date(2026, 1, 2))
    ]
    assert segments(None, date(2026, 1, 2), date(2026, 1, 1)) == []
