"""Property tests of ``zscore``'s ``recent_levels``: what it keeps stays within the last hour and its
bound, in any chunking; and a pickled scorer goes on as if never pickled."""

from __future__ import annotations

import itertools
import pickle
import random

from hypothesis import given, settings
from hypothesis import strategies as st

from backend.analytics.engines.zscore import _RECENT_MAX, _RECENT_US, ZScoreScorer

T0_US = 1_714_521_600_000_000  # 2024-05-01T00:00Z


def chunks(n: int, cuts: list[int]) -> list[tuple[int, int]]:
    bounds = [0, *sorted(c for c in cuts if c <= n), n]
    return list(itertools.pairwise(bounds))


def job(n: int, step_s: int, seed: int) -> tuple[list[float], list[int]]:
    """A flat series with noise and a job of random height, start and length every 40 points."""
    rng = random.Random(seed)
    values, stamps, busy = [], [], 0
    for i in range(n):
        if i % 40 == rng.randrange(3):
            busy = rng.randrange(3, 15)
        values.append(100.0 + (25.0 if busy > 0 else 0.0) + rng.gauss(0.0, 1.0))
        busy -= 1
        stamps.append(T0_US + i * step_s * 1_000_000)
    return values, stamps


@settings(max_examples=30, deadline=None)
@given(
    st.sampled_from([1, 15, 60, 300, 3600]),  # the step in seconds
    st.integers(65, 3000),
    st.lists(st.integers(0, 3000), max_size=4),
    st.integers(0, 2**32 - 1),
)
def test_recent_levels_keeps_the_last_hour_at_most_and_scores_alike_in_any_chunking(
    step: int, n: int, cuts: list[int], seed: int
) -> None:
    """The points kept are points of the series in time order, none older than an hour before the
    latest finished block's last point, at most _RECENT_MAX of them; the scores do not depend on the
    chunking, nor on a pickle taken between chunks."""
    values, stamps = job(n, step, seed)
    whole = ZScoreScorer(recent_levels=True)
    want = whole.update_many(values, stamps)
    scorer = ZScoreScorer(recent_levels=True)
    got: list[float] = []
    for a, b in chunks(n, cuts):
        got.extend(scorer.update_many(values[a:b], stamps[a:b]))
        scorer = pickle.loads(pickle.dumps(scorer))
    assert got == want
    kept = list(scorer._recent)
    assert len(kept) <= _RECENT_MAX
    if kept:
        # Points of the series (scaled as the scorer scales them), in time order: those of its latest
        # points that were no news on their own (an alarming point is not a level it took).
        points = {t: v * scorer._norm for t, v in zip(stamps, values, strict=True)}
        assert all(points[t] == v for t, v in kept)
        assert [t for t, _ in kept] == sorted({t for t, _ in kept})
        assert kept[0][0] >= scorer._last_t - _RECENT_US or scorer._last_t == 0
