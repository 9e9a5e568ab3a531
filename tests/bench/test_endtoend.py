"""``make bench``'s run plan: which rates, in batches of what."""

from __future__ import annotations

import pytest

from bench.endtoend import _rates

pytestmark = pytest.mark.unit


def test_rates_take_the_rate_batch_unless_an_entry_names_its_own(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("BENCH_RATES", "500, 1000:500,,2000")
    assert _rates(100) == [(500.0, 100), (1000.0, 500), (2000.0, 100)]


def test_no_rates_means_no_rate_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BENCH_RATES", "")
    assert _rates(100) == []
