"""Timestamps that wander about their minute: the classifier reads the cycle they stand for.

An agent or a scraper stamps each point when it ran (12:00:00.084, 12:01:00.291,
12:01:59.873), so the steps are equal only on average. Before, every check that
reads a daily cycle from the timestamps needed exactly equal steps: on such a
series the classifier saw no daily cycle, told a spike of 11 sd on a cycle as "2.46
sd above its baseline", and labelled a periodic series' windows right 65% of the
time where it labels the same series with exact timestamps right 99% of the time
(benchmarks: BENCHMARKS.md, "Timestamps that wander about their minute").
"""

from __future__ import annotations

import itertools
import math
import random
from datetime import datetime, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from backend.analytics import AnomalyResult, AnomalyType, ExplanationClassifier, MetricSeries, TimeWindow
from backend.analytics.engines.zscore import ZScoreEngine
from backend.analytics.explain import _on_grid

T0_US = 1_735_689_600_000_000  # 2025-01-01T00:00:00Z
MIN_US = 60_000_000
DAY = 1440


def _jittered(n: int, step_us: int, jitter_us: int, seed: int, t0: int = T0_US) -> list[int]:
    rng = random.Random(seed)
    return [t0 + i * step_us + rng.randint(-jitter_us, jitter_us) for i in range(n)]


def _cycle_values(n: int, period: int, seed: int) -> list[float]:
    rng = random.Random(seed)
    return [50.0 + 20.0 * math.sin(2 * math.pi * i / period) + rng.gauss(0.0, 1.0) for i in range(n)]


def _series(us: list[int], values: list[float]) -> MetricSeries:
    return MetricSeries.from_arrays("acme", "c-1", "n-1", "cpu", us, values)


def _window(s: MetricSeries, start: int, end: int) -> TimeWindow:
    return TimeWindow(start, end, s.timestamps[start], s.timestamps[end - 1])


# -- _on_grid ---------------------------------------------------------------------------------


def test_exact_steps_and_exact_steps_with_gaps_are_left_as_they_are() -> None:
    exact = [T0_US + 17_000_000 + i * MIN_US for i in range(100)]  # (17 s past the minute: off the grid)
    assert _on_grid(exact, 0, 100) is exact
    gapped = exact[:40] + exact[45:]
    assert _on_grid(gapped, 0, len(gapped)) is gapped


def test_jittered_points_go_to_the_minute_they_stand_for() -> None:
    us = _jittered(3 * DAY, MIN_US, 2_000_000, seed=1)
    grid = _on_grid(us, 100, 2000)
    assert grid is not us
    assert list(grid[100:2000]) == [T0_US + i * MIN_US for i in range(100, 2000)]
    assert list(grid[:100]) == us[:100]  # (before the span: as given)


def test_hourly_points_a_few_minutes_late_go_to_their_hour() -> None:
    hour = 60 * MIN_US
    us = _jittered(100, hour, 5 * MIN_US, seed=2, t0=T0_US + 10 * MIN_US)  # about 10 past, give or take 5
    assert list(_on_grid(us, 0, 100)) == [T0_US + i * hour for i in range(100)]


def test_ambiguous_or_too_irregular_points_are_left_as_they_are() -> None:
    # About half a minute off the epoch grid: jitter sends points either way, so no grid is read.
    near_half = _jittered(500, MIN_US, 1_000_000, seed=3, t0=T0_US + 30 * 1_000_000)
    assert _on_grid(near_half, 0, 500) is near_half
    # Jitter of +-20 s at 1-minute steps: more than a quarter step either way.
    loose = _jittered(500, MIN_US, 20_000_000, seed=4)
    assert _on_grid(loose, 0, 500) is loose
    # Out of order once put on a grid (two points nearest the same minute): as given.
    twice = _jittered(500, MIN_US, 500_000, seed=6)
    twice[250] = twice[249] + 20_000_000
    assert _on_grid(twice, 0, 500) is twice


def test_a_missed_point_leaves_a_gap_on_the_grid() -> None:
    gap = _jittered(500, MIN_US, 500_000, seed=5)
    del gap[250]
    assert list(_on_grid(gap, 0, 499)) == [T0_US + i * MIN_US for i in range(500) if i != 250]


# -- the classifier on jittered timestamps -------------------------------------------------


@settings(max_examples=30, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    step_min=st.sampled_from([1, 5, 15, 60]),
    kind=st.sampled_from(["spike", "shift", "phase", "none"]),
    jitter=st.floats(0.0, 0.24),
)
def test_jittered_timestamps_give_the_verdicts_of_exact_ones(
    seed: int, step_min: int, kind: str, jitter: float
) -> None:
    """Up to a quarter step either way, a window on a daily cycle is judged as on exact timestamps."""
    period = DAY // step_min
    n = 3 * period + period // 4
    rng = random.Random(seed)
    values = _cycle_values(n, period, seed)
    start = n - period // 8
    if kind == "spike":
        values[start + 2] += 15.0
    elif kind == "shift":
        values[start:] = [v + 12.0 for v in values[start:]]
    elif kind == "phase":
        late = [2 * math.pi * (i - period // 4) / period for i in range(start, n)]
        values[start:] = [50.0 + 20.0 * math.sin(x) for x in late]
    step_us = step_min * MIN_US
    exact = _series([T0_US + i * step_us for i in range(n)], values)
    moved = _series(_jittered(n, step_us, int(jitter * step_us), rng.randrange(1 << 30)), values)
    clf = ExplanationClassifier()
    assert clf.classify(moved, _window(moved, start, n)) is clf.classify(exact, _window(exact, start, n))
    if jitter * step_us < 500_000:  # (within half a second: the same sentence, times to the second)
        told = [
            clf.explain(s, AnomalyResult(*s.ids, s.timestamps[start], s.timestamps[n - 1], 0.9, "spike"))
            for s in (moved, exact)
        ]
        assert told[0] == told[1]


def test_a_spike_on_a_jittered_daily_cycle_is_told_against_the_cycle() -> None:
    """`zscore` on 1-minute points stamped within half a second of their minute: the sentence says what
    the daily cycle expected and how far the spike was from it, to the minute."""
    n = 4 * DAY
    values = _cycle_values(n, DAY, seed=1)
    at = 3 * DAY + 300
    values[at : at + 3] = [v + 12.0 for v in values[at : at + 3]]
    moved = _series(_jittered(n, MIN_US, 500_000, seed=7), values)
    exact = _series([T0_US + i * MIN_US for i in range(n)], values)
    told = {}
    for name, s in (("moved", moved), ("exact", exact)):
        spikes = [r for r in ZScoreEngine().detect(s) if r.anomaly_label is AnomalyType.SPIKE]
        assert spikes, name
        told[name] = spikes[0].explanation or ""
    assert "its daily cycle expected there" in told["moved"], told
    assert "at 05:00–05:09 UTC on 2025-01-04." in told["moved"], told
    sd = float(told["moved"].split(" sd ")[0].rsplit(" ", 1)[1])
    sd_exact = float(told["exact"].split(" sd ")[0].rsplit(" ", 1)[1])
    assert sd >= 8.0 and abs(sd - sd_exact) <= 0.25 * sd_exact, told


def test_fractions_of_a_second_stay_where_points_are_under_a_second_apart() -> None:
    us = [T0_US + 500_000 + i * 100_000 for i in range(200)]
    s = _series(us, [40.0 + math.sin(i) for i in range(200)])
    result = AnomalyResult(*s.ids, s.timestamps[190], s.timestamps[199], 0.1, "normal")
    assert "at 00:00:19.5–00:00:20.4 UTC" in ExplanationClassifier().explain(s, result)
    assert datetime.fromtimestamp(T0_US / 1e6, tz=timezone.utc).year == 2025


@settings(max_examples=6, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), cuts=st.lists(st.integers(1, 900), min_size=1, max_size=8))
def test_a_stream_labels_a_jittered_cycle_as_detect_does(seed: int, cuts: list[int]) -> None:
    """Fed in any chunks, `zscore`'s stream gives detect's results (labels, sentences) on jittered points
    with points missed."""
    rng = random.Random(seed)
    n = 3 * (DAY // 5) + 200
    values = _cycle_values(n, DAY // 5, seed)
    for _ in range(4):
        at = rng.randrange(DAY // 5, n - 3)
        values[at] += rng.choice((-1.0, 1.0)) * 14.0
    values[n - 150 :] = [v + 10.0 for v in values[n - 150 :]]
    us = _jittered(n, 5 * MIN_US, 30_000_000, seed)  # (5-minute steps, +-30 s)
    missed = set(rng.sample(range(n), 8)) | set(range(400, 400 + rng.randint(1, 40)))  # (and points missed)
    s = _series(
        [u for i, u in enumerate(us) if i not in missed], [v for i, v in enumerate(values) if i not in missed]
    )
    n = len(s)
    engine = ZScoreEngine()
    stream = engine.stream(*s.ids)
    got: list[AnomalyResult] = []
    pos = 0
    for size in [*cuts, n]:
        got.extend(stream.update(s.slice(pos, min(n, pos + size))))
        pos = min(n, pos + size)
        if pos == n:
            break
    want = engine.detect(s)
    assert got == want
    assert any(r.is_anomalous and "daily cycle" in (r.explanation or "") for r in want)


# -- zscore: jittered points read in their own slots ------------------------------------------


def _place(stamps: list[int], slot_us: int) -> int:
    from backend.analytics.engines.zscore import _grid_shift

    steps = sorted(b - a for a, b in itertools.pairwise(stamps))
    return _grid_shift(stamps, steps, slot_us, 86_400_000_000 // slot_us, True)


@settings(max_examples=80, deadline=None)
@given(
    step_min=st.sampled_from([1, 5, 15, 60]),
    offset=st.floats(0.0, 0.999),
    jitter=st.floats(0.0, 0.125),
    seed=st.integers(0, 1000),
)
def test_jittered_points_fall_in_the_slot_of_the_time_they_stand_for(
    step_min: int, offset: float, jitter: float, seed: int
) -> None:
    """Points one step apart, moved up to an eighth of a step either way: with the shift, each falls in
    a slot of its own, one after the other (none shares a slot, none is skipped), whatever the points'
    place in their slots (a slot's edge included: there the slots may all be read one earlier or later);
    exact points fall in the middle of the slot they were in."""
    slot = step_min * MIN_US
    o = int(offset * slot)
    nominal = [T0_US + o + i * slot for i in range(600)]
    rng = random.Random(seed)
    moved = [u + rng.randint(-int(jitter * slot), int(jitter * slot)) for u in nominal]
    g = _place(moved, slot)
    read = [(u + g) // slot for u in moved]
    assert read == list(range(read[0], read[0] + len(read)))
    assert abs(read[0] - nominal[0] // slot) <= 1
    g0 = _place(nominal, slot)
    assert all((u + g0) % slot == slot // 2 and (u + g0) // slot == u // slot for u in nominal)


def test_no_shift_where_points_are_not_one_slot_apart() -> None:
    from backend.analytics.engines.zscore import _grid_shift

    half_minute = [T0_US + i * 30_000_000 + 7 for i in range(200)]  # two points a 1-minute slot
    steps = [30_000_000] * 199
    assert _grid_shift(half_minute, steps, MIN_US, 1440, True) == 0
    hourly = [T0_US + i * 60 * MIN_US + 9 * MIN_US for i in range(200)]
    steps = [60 * MIN_US] * 199
    assert _grid_shift(hourly, steps, 60 * MIN_US, 24, True) == 30 * MIN_US - 9 * MIN_US
    assert _grid_shift(hourly, steps, 60 * MIN_US, 24, False) == 0  # (a zone whose clock moves by 30 min)


# -- missed points ----------------------------------------------------------------------------


def test_missed_points_are_filled_on_the_line_between_their_neighbours() -> None:
    from backend.analytics.explain import _filled

    n = 3 * DAY
    missed = {40, 41, 42, 2000}
    us = [T0_US + i * MIN_US for i in range(n) if i not in missed]
    vals = [float(i) for i in range(n) if i not in missed]
    assert _filled(vals[:2000], us[:2000], 0, 1990, 2000) is None  # (less than two days: as it is)
    view = _filled(vals, us, 0, len(us) - 30, len(us))
    assert view is not None
    got_v, got_u, at = view
    assert got_u == [T0_US + i * MIN_US for i in range(n)]
    assert got_v == [float(i) for i in range(n)]  # (on the line between the gaps' ends)
    assert [got_u[at[k]] for k in range(len(us))] == us  # (where each given point went)
    assert _filled(vals[: len(us) - 30], us[: len(us) - 30], 0, len(us) - 40, len(us) - 30) is not None


def test_a_gap_longer_than_a_day_starts_the_history_after_it() -> None:
    from backend.analytics.explain import _filled

    keep = [i for i in range(5 * DAY) if not DAY <= i < 2 * DAY + 5]  # (a day and 5 minutes missed)
    us = [T0_US + i * MIN_US for i in keep]
    vals = [float(i % 7) for i in keep]
    view = _filled(vals, us, 0, len(us) - 10, len(us))
    assert view is not None
    _, got_u, at = view
    assert got_u[0] == T0_US + (2 * DAY + 5) * MIN_US and at[DAY - 1] == -1 and at[DAY] == 0
    windowed = [i for i in range(len(us)) if i != len(us) - 5]  # (a point missed inside the window)
    assert _filled(vals, [us[i] for i in windowed], 0, len(windowed) - 10, len(windowed)) is None
    short = [i for i in range(4 * DAY) if not DAY <= i < 2 * DAY + 5]  # (less than two days after it)
    assert (
        _filled([0.0] * len(short), [T0_US + i * MIN_US for i in short], 0, len(short) - 10, len(short))
        is None
    )


@pytest.mark.parametrize("step_min", [1, 5, 15, 60])
@pytest.mark.parametrize("missed", ["one", "scattered", "an hour", "twenty hours"])
def test_missed_points_keep_the_daily_cycle_read(step_min: int, missed: str) -> None:
    """A spike, a level shift and a moved phase on a daily cycle whose history missed points: SPIKE (told
    against the daily cycle), TREND, and what the phase reads with every point there."""
    period = DAY // step_min
    n = 4 * period
    rng = random.Random(step_min)
    hist = range(period // 2, 3 * period)
    gone = {
        "one": {rng.choice(hist)},
        "scattered": set(rng.sample(hist, 5)),
        "an hour": set(range(2 * period, 2 * period + max(1, period // 24))),
        "twenty hours": set(range(period + 5, period + 5 + period * 20 // 24)),
    }[missed]
    keep = [i for i in range(n) if i not in gone]
    start = n - period // 8
    clf = ExplanationClassifier()
    for kind, want in (("spike", AnomalyType.SPIKE), ("shift", AnomalyType.TREND), ("phase", None)):
        values = _cycle_values(n, period, 11)
        if kind == "spike":
            values[start + 2] += 15.0
        elif kind == "shift":
            values[start:] = [v + 12.0 for v in values[start:]]
        else:
            late = [2 * math.pi * (i - period // 4) / period for i in range(start, n)]
            values[start:] = [50.0 + 20.0 * math.sin(x) for x in late]
        whole = _series([T0_US + i * step_min * MIN_US for i in range(n)], values)
        s = _series([T0_US + i * step_min * MIN_US for i in keep], [values[i] for i in keep])
        w = _window(s, keep.index(start), len(keep))
        assert clf.classify(s, w) is (want or clf.classify(whole, _window(whole, start, n))), (kind, missed)
        if kind == "spike":
            told = clf.explain(s, AnomalyResult(*s.ids, w.start_time, w.end_time, 0.9, "spike"))
            assert "its daily cycle expected there" in told, told
