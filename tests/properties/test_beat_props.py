"""Properties of ``zscore``'s beat (``_Beat``): it only ever lowers an alarming z, to one value, and its
state is a function of what it has seen (a pickled beat goes on as if never pickled)."""

from __future__ import annotations

import itertools
import pickle
from random import Random

from hypothesis import given, settings
from hypothesis import strategies as st

from backend.analytics.engines import zscore as zscore_module

MINUTE = 60_000_000
THR = 5.5

# Points near or above the line at increasing times: gaps of 1 minute to 3 hours, z from half the line up.
points_st = st.lists(
    st.tuples(st.integers(1, 180), st.floats(THR * 0.5, 40.0, allow_nan=False)), min_size=1, max_size=200
)
# The same, as a job would make them: runs every `period` minutes, give or take `jitter`.
jobs_st = st.tuples(
    st.integers(12, 360), st.integers(0, 3), st.integers(6, 40), st.randoms(use_true_random=False)
)


def feed(beat: zscore_module._Beat, points: list[tuple[int, float]]) -> list[float]:
    return [beat.see(z, t, THR) for t, z in points]


def timed(points: list[tuple[int, float]]) -> list[tuple[int, float]]:
    stamps = itertools.accumulate(gap * MINUTE for gap, _ in points)
    return list(zip(stamps, (z for _, z in points), strict=True))


@settings(max_examples=150)
@given(points_st)
def test_the_beat_only_quiets_alarming_points(points: list[tuple[int, float]]) -> None:
    seen = timed(points)
    out = feed(zscore_module._Beat(MINUTE), seen)
    for (_, z), got in zip(seen, out, strict=True):
        assert got == z or (z >= THR and got == zscore_module._BEAT_Z)


@settings(max_examples=100)
@given(jobs_st, st.integers(0, 199))
def test_a_beat_pickled_anywhere_goes_on_as_if_never_pickled(
    job: tuple[int, int, int, Random], cut: int
) -> None:
    period, jitter, runs, rng = job
    seen = [
        (k * period * MINUTE + rng.randint(0, jitter) * MINUTE + j * MINUTE, rng.uniform(THR, 2 * THR))
        for k in range(runs)
        for j in range(rng.randint(1, 3))
    ]
    cut = min(cut, len(seen))
    whole = feed(zscore_module._Beat(MINUTE), seen)
    first = zscore_module._Beat(MINUTE)
    head = feed(first, seen[:cut])
    resumed = pickle.loads(pickle.dumps(first))
    assert head + feed(resumed, seen[cut:]) == whole
    if 20 <= period <= 360 and runs >= 12 and jitter <= 1:
        # A steady job whose runs are more than 10 quiet minutes apart keeps a beat: later runs are no news.
        assert zscore_module._BEAT_Z in whole[len(whole) // 2 :]
