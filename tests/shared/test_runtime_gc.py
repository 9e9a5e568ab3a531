"""The services' garbage collection (``shared.runtime``): a reference cycle is freed within
``collect_garbage``'s interval even when the collector's counts would never start a pass."""

from __future__ import annotations

import asyncio
import gc
import weakref
from collections.abc import Iterator

import pytest
from sqlalchemy import ARRAY, Text, any_, bindparam, column, select

from shared.runtime import collect_garbage

pytestmark = pytest.mark.unit


@pytest.fixture
def counts_never_collect() -> Iterator[None]:
    """Thresholds so high that no collection starts by count while a test runs."""
    thresholds = gc.get_threshold()
    gc.collect()
    gc.set_threshold(100_000_000, 1_000, 1_000)
    try:
        yield
    finally:
        gc.set_threshold(*thresholds)


def statement_parameter() -> weakref.ref[object]:
    """A statement built per call with its values inside, as the repositories built them
    before ``shared.db.bulk.any_of`` took its values at execution: SQLAlchemy memoizes the
    parameter's comparator on it, a cycle that holds the list of ids. A weak reference to it."""
    ids = bindparam("ids", [f"113-0000000-{i:07d}" for i in range(500)], type_=ARRAY(Text))
    select(column("doc")).where(column("amazon_order_id") == any_(ids))
    return weakref.ref(ids)


@pytest.mark.usefixtures("counts_never_collect")
async def test_a_cycle_outlives_its_statement_until_a_collection() -> None:
    held = statement_parameter()
    await asyncio.sleep(0.2)
    assert held() is not None  # what collect_garbage is for: the counts alone leave it
    gc.collect()
    assert held() is None


@pytest.mark.usefixtures("counts_never_collect")
async def test_collect_garbage_frees_it_within_its_interval() -> None:
    held = statement_parameter()
    collector = asyncio.ensure_future(collect_garbage(every=0.05))
    try:
        await asyncio.sleep(0.2)
        assert held() is None
    finally:
        collector.cancel()
        await asyncio.gather(collector, return_exceptions=True)
