"""Property tests of the warm-ups in time: the novelty engines' quiet first day at any step, and
``zscore``'s ``transform="log"`` (the scores of the logs, whatever the chunking)."""

from __future__ import annotations

import itertools
import math
import random

from hypothesis import example, given, settings
from hypothesis import strategies as st

from backend.analytics.engines._grid import DAY_US, QuietStart
from backend.analytics.engines.novelty import NoveltyScorer
from backend.analytics.engines.zscore import ZScoreScorer

T0_US = 1_714_521_600_000_000  # 2024-05-01T00:00Z


def chunks(n: int, cuts: list[int]) -> list[tuple[int, int]]:
    bounds = [0, *sorted(c for c in cuts if c <= n), n]
    return list(itertools.pairwise(bounds))


@settings(max_examples=40, deadline=None)
@given(
    st.sampled_from([1, 10, 30, 45, 60, 300, 3600]),  # the step in seconds: 1 s to 1 h
    st.integers(20, 3000),
    st.lists(st.integers(0, 3000), max_size=5),
    st.integers(0, 2**32 - 1),
)
@example(step=30, n=3000, cuts=[1000, 1500], seed=7)  # a day is 2,880 points: past 1,440 within it
def test_the_quiet_start_holds_exactly_the_first_day_at_any_step(
    step: int, n: int, cuts: list[int], seed: int
) -> None:
    """Every score of a point less than a day after the first is 0 and every later one is the inner
    scorer's, at any step and in any chunking (before, the quiet start also ended at the 1,441st point)."""
    rng = random.Random(seed)
    stamps = [T0_US + i * step * 1_000_000 for i in range(n)]
    values = [rng.gauss(0.0, 1.0) for _ in range(n)]
    values[-1] = 1e9  # never seen before: scored if it comes after the first day
    if n > 2000:
        values[2000] = -1e9  # the same, past the 1,440th point: within the first day at steps under 43 s
    bare = NoveltyScorer(warmup_points=8, scales=(1, 2), levels=4, rest_points=3).update_many(values)
    quiet = QuietStart(NoveltyScorer(warmup_points=8, scales=(1, 2), levels=4, rest_points=3))
    got: list[float] = []
    for a, b in chunks(n, cuts):
        got.extend(quiet.update_many(values[a:b], stamps[a:b]))
    assert got == [0.0 if t < stamps[0] + DAY_US else raw for t, raw in zip(stamps, bare, strict=True)]
    if (n - 1) * step * 1_000_000 >= DAY_US:
        assert got[-1] > 0.0  # (the last point, after the first day, is scored: the test tells them apart)


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.floats(1e-6, 1e6), min_size=70, max_size=300),
    st.lists(st.integers(0, 300), max_size=5),
    st.integers(1, 900),
)
def test_the_log_transform_scores_the_logs_in_any_chunking(
    values: list[float], cuts: list[int], step: int
) -> None:
    """``transform="log"`` fed in any chunks gives, bit for bit, the scores of the logs fed at once."""
    stamps = [T0_US + i * step * 1_000_000 for i in range(len(values))]
    logged = ZScoreScorer(transform="log")
    got: list[float] = []
    for a, b in chunks(len(values), cuts):
        got.extend(logged.update_many(values[a:b], stamps[a:b]))
    assert got == ZScoreScorer().update_many([math.log(v) for v in values], stamps)
