"""bench.report: typed results written as the JSON documents the bench has always saved."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from bench.report import FLATTEN, OMIT, jsonable, key

pytestmark = pytest.mark.unit


@dataclass(frozen=True)
class Inner:
    p99_ms: float | None = field(default=None, metadata=OMIT)


@dataclass(frozen=True)
class Outer:
    sampled: int
    inner: Inner = field(metadata=FLATTEN)
    start: str = field(default="a", metadata=key("from"))
    applied_per_s: float | None = None


def test_a_field_is_its_key_and_a_figure_not_measured_is_null_unless_omitted() -> None:
    assert jsonable(Outer(3, Inner(120.0))) == {
        "sampled": 3,
        "p99_ms": 120.0,
        "from": "a",
        "applied_per_s": None,
    }
    assert jsonable(Inner()) == {}


def test_results_inside_dicts_lists_and_tuples_are_written_too() -> None:
    assert jsonable({"runs": [Inner(1.0), (Inner(), "x")]}) == {
        "runs": [{"p99_ms": 1.0}, [{}, "x"]]
    }
