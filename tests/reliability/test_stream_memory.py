"""Bounded memory per stream: a live stream's state does not grow with the series.

Every built-in engine's stream is fed a long series (a daily cycle with
spikes, level shifts and a flat stretch) in chunks of random sizes. After each
chunk:

* the buffered points (``_vals``, ``_us``, ``_scores``) stay within the
  documented bound, ``2 * (context_points + window_size_points +
  stride_points)`` plus the chunk just taken (trimming is amortised);

and once every model has filled its fixed-size state and the buffer has
been trimmed a few times (the series holds at least four buffer bounds), the
stream's checkpoint (its pickle, which holds every piece of its state) is no
larger over the second half of the series than over its second quarter, but
for a few kilobytes, whatever the series' length. (The buffer saw-tooths
between one and two bounds as it fills and is trimmed, so single sizes are
compared by their largest over each stretch.)

Default: the classifier reads 2,048 points of history (the buffer bound is
about 4,200 points) over 12 days of one-minute points; ``--long``: the
default 12,288 points of history over 70 days. Settings beyond
``MAX_POINTS`` are refused (see
``tests/unit/test_scoring.py::test_settings_in_points_are_bounded``).
"""

from __future__ import annotations

import math
import pickle
import random

import pytest

from backend.analytics import EngineRegistry, MetricSeries
from backend.analytics.engines._shape import ShapeScorer
from backend.analytics.engines.novelty import NoveltyScorer
from backend.analytics.scoring import PointScoringEngine
from tests.reliability import scale

DAY = 1440
DAYS = scale.size(12, 70)
HISTORY: int | None = 2048 if not scale.LONG else None  # None: the classifier's default


def fleet_like_series(days: int, seed: int) -> MetricSeries:
    """One-minute points: a daily cycle, noise, spikes, level shifts and a flat stretch."""
    rng = random.Random(seed)
    values = []
    level = 50.0
    for i in range(days * DAY):
        if rng.random() < 0.0005:
            level += rng.choice([-10.0, 10.0])
        v = level + 10 * math.sin(2 * math.pi * i / DAY) + rng.gauss(0, 1)
        if rng.random() < 0.001:
            v += 40
        if 2 * DAY <= i < 2 * DAY + 300:
            v = 7.0
        values.append(v)
    return MetricSeries.from_arrays("t", "c", "n", "m", [i * 60_000_000 for i in range(len(values))], values)


def learnt_bytes(stream: object) -> int:
    """The pickled size of what the grid scorers in a stream (alone, or wrapped in ``combined``) have learnt:
    ``novelty``'s visited bins, bounded by its logarithmic grid, and ``combined``'s shape memory, at most
    ``_shape._SHAPES`` shapes per grid (``tests/unit/test_combined.py`` fills it). Both grow as a series
    reaches new levels and shapes, up to their bounds, and a 12-day series does not reach them."""
    found, todo = 0, [getattr(stream, "_scorer", None)]
    while todo:
        obj = todo.pop()
        if isinstance(obj, NoveltyScorer):
            found += len(pickle.dumps(obj._seen))
        elif isinstance(obj, ShapeScorer):
            found += len(pickle.dumps(obj._seen)) + len(pickle.dumps(obj._seen2))
        elif obj is not None and not isinstance(obj, (int, float, str)):
            todo.extend(getattr(obj, name, None) for name in ("inner", "novelty", "_novelty", "_shape"))
    return found


@pytest.mark.parametrize("name", ["zscore", "novelty", "contextual", "combined"])
def test_stream_state_does_not_grow_with_the_series(name: str) -> None:
    engine = EngineRegistry.default().create(
        name, window_size_points=30, stride_points=10, classifier_history_points=HISTORY
    )
    assert isinstance(engine, PointScoringEngine)
    series = fleet_like_series(DAYS, seed=len(name))
    stream = engine.stream(*series.ids)
    bound = 2 * (engine.context_points + engine.window_size_points + engine.stride_points)
    n = len(series)
    assert n >= 4 * bound, f"the series ({n} points) must hold four buffer bounds ({bound})"
    rng = random.Random(7)
    quarter_max = half_max = 0  # the largest checkpoint over [n/4, n/2) and over [n/2, n)
    largest_buffer = 0
    lo = next_sample = 0
    while lo < n:
        chunk = rng.choice([1, 7, 60, 500, 2000])
        stream.update(series.slice(lo, lo + chunk))
        lo += chunk
        buffered = len(stream._vals)
        assert buffered == len(stream._us) == len(stream._scores)
        assert buffered <= bound + chunk, f"{name}: {buffered} points buffered after {lo}"
        largest_buffer = max(largest_buffer, buffered)
        if lo >= next_sample and lo >= n // 4:  # a checkpoint every ~bound/8 points
            next_sample = lo + bound // 8
            size = len(pickle.dumps(stream)) - learnt_bytes(stream)
            if lo < n // 2:
                quarter_max = max(quarter_max, size)
            else:
                half_max = max(half_max, size)
    middle_size, end_size = quarter_max, half_max
    # Twice the points, the same state (net of what the grid scorers learnt, bounded: learnt_bytes): a few
    # KB of slack for counters and the episode in progress.
    assert end_size <= middle_size + 8_192, f"{name}: checkpoint {middle_size} -> {end_size} bytes"
    figures = scale.FIGURES.setdefault("stream_memory", {"days": DAYS, "points_per_stream": n})
    figures[f"{name}_checkpoint_bytes"] = f"{middle_size}->{end_size}"
    figures[f"{name}_max_buffered"] = largest_buffer
