"""``make bench``'s run plan: which rates, in batches of what."""

from __future__ import annotations

import pytest

from bench.endtoend import _in_flight, _rates

pytestmark = pytest.mark.unit


def test_rates_take_the_rate_batch_unless_an_entry_names_its_own(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("BENCH_RATES", "500, 1000:500,,2000")
    assert _rates(100) == [(500.0, 100), (1000.0, 500), (2000.0, 100)]


def test_no_rates_means_no_rate_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BENCH_RATES", "")
    assert _rates(100) == []


def test_in_flight_covers_half_a_second_of_requests_at_a_rate(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("BENCH_IN_FLIGHT", raising=False)
    assert [_in_flight(r, 100) for r in (0, 500, 1000, 2000)] == [2, 3, 5, 10]
    monkeypatch.setenv("BENCH_IN_FLIGHT", "7")
    assert _in_flight(2000, 100) == 7
