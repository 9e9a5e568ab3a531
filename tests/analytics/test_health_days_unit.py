"""A window cut into the rollup's whole UTC days and its two partial pieces
(``adapters.health_days.Pieces``): every moment of the window is in exactly one of them, and
no moment outside it in either."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta, timezone

import pytest

from analytics.adapters.health_days import Pieces

S = timedelta(seconds=1)


def _parts(pieces: Pieces, moment: datetime, days: int) -> tuple[bool, bool]:
    start, first, midnight = pieces.start(days), pieces.first_midnight(days), pieces.midnight
    in_edge = start <= moment < first or midnight <= moment <= pieces.as_of
    day = moment.astimezone(UTC).date()
    return in_edge, pieces.whole(day, days)


@pytest.mark.parametrize(
    "as_of",
    [
        datetime(2026, 6, 30, 12, tzinfo=UTC),
        datetime(2026, 6, 30, tzinfo=UTC),  # at midnight: the last piece is one instant
        datetime(2026, 6, 30, 23, 59, 59, tzinfo=UTC),
        datetime(2026, 3, 29, 3, 30, tzinfo=timezone(timedelta(hours=9))),  # not UTC
    ],
)
@pytest.mark.parametrize("days", [7, 10, 14, 30, 60])
def test_every_moment_of_a_window_is_in_one_part_and_none_outside(
    as_of: datetime, days: int
) -> None:
    pieces = Pieces(as_of)
    start = as_of - timedelta(days=days)
    rng = random.Random(days)
    moments = [start - S, start, start + S, as_of - S, as_of, as_of + S]
    moments += [pieces.first_midnight(days) + k * S for k in (-1, 0, 1)]
    moments += [pieces.midnight + k * S for k in (-1, 0, 1)]
    moments += [start + (as_of - start) * rng.random() for _ in range(200)]
    for moment in moments:
        in_edge, in_whole = _parts(pieces, moment, days)
        assert not (in_edge and in_whole), moment
        assert (in_edge or in_whole) == (start <= moment <= as_of), moment
