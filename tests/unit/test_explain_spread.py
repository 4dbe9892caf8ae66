"""The classifier's spread by hour of the day, and net of the lag (request rates).

A request rate's noise grows with its level: quiet in the night's trough, loud
at the noon peak. A spike of the same size in local noise must read about as
far out at either hour, and a first weekend (judged against weekdays, which it
runs below) must not inflate the spread of every later window. Generated series:
a daily cosine from 10% of the peak at midnight UTC to the peak at noon,
weekends at 60% of the weekdays' swing, noise 3% of the level, from a Monday.
"""

from __future__ import annotations

import math
import pickle
import random
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from backend.analytics import AnomalyResult, AnomalyType, ExplanationClassifier, MetricSeries, TimeWindow
from backend.analytics._seasonal import robust_sd
from backend.analytics.explain import _HOUR_BOUND, _HOUR_POOL, _hour_spread, _Model, _net_of_lag

MONDAY_S = 1_704_067_200  # 2024-01-01 00:00 UTC, a Monday
SPIKE_SD = 15.0


def request_rate(seed: int, step_min: int, days: int, spike: int) -> MetricSeries:
    """The series (module docstring) with one spike of SPIKE_SD local sd at index ``spike``."""
    rng = random.Random(seed)
    peak = 10 ** rng.uniform(1.0, 4.0)
    values = []
    for i in range(days * 1440 // step_min):
        day, minute = divmod(i * step_min, 1440)
        swing = 0.6 if day % 7 >= 5 else 1.0
        cycle = 0.5 * (1.0 - math.cos(2 * math.pi * minute / 1440))
        mean = peak * (0.1 + 0.9 * swing * cycle)
        values.append(mean + rng.gauss(0.0, 0.03 * mean) + (SPIKE_SD * 0.03 * mean if i == spike else 0.0))
    times = [(MONDAY_S + i * 60 * step_min) * 1_000_000 for i in range(len(values))]
    return MetricSeries.from_arrays("acme", "c-1", "n-1", "requests", times, values)


def stated(series: MetricSeries, spike: int) -> tuple[float, AnomalyType]:
    """How many sd the sentence puts a window around ``spike`` (the series ends 7 points after it)
    from its expectation, and the window's label."""
    start, end = spike - 3, spike + 7
    s = series.slice(0, end)
    clf = ExplanationClassifier()
    label = clf.classify(s, TimeWindow(start, end, s.timestamps[start], s.timestamps[end - 1]))
    result = AnomalyResult(*s.ids, s.timestamps[start], s.timestamps[end - 1], 0.9, label)
    text = clf.explain(s, result)
    found = re.search(r"([0-9.]+) sd (above|below)", text)
    assert found is not None, text
    return float(found.group(1)), label


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_a_spike_reads_as_far_out_at_the_quiet_night_as_at_the_loud_noon(seed: int) -> None:
    # 5-minute steps, 10 days: spikes at 03:30 and at 12:30 on the last day (a Wednesday), each on
    # a series of its own. With one spread for the whole day the night's read 6-8 sd and the
    # noon's 23-29 sd.
    day = 9 * 288
    night, night_label = stated(request_rate(seed, 5, 10, day + 42), day + 42)
    noon, noon_label = stated(request_rate(seed, 5, 10, day + 150), day + 150)
    assert night_label is AnomalyType.SPIKE and noon_label is AnomalyType.SPIKE
    assert 0.5 <= night / noon <= 2.0, (night, noon)
    assert 6.0 <= night <= 2 * SPIKE_SD and 6.0 <= noon <= 2 * SPIKE_SD, (night, noon)


@pytest.mark.parametrize("seed", [0, 1])
def test_a_first_weekend_does_not_inflate_the_spread(seed: int) -> None:
    # 1-minute steps: a spike at 03:30 on the first Sunday. The last day before it (the first
    # Saturday, below the weekdays it is judged against) ran far from its expectation all day;
    # the lag takes that out. With the raw residuals the spike read 0.4-0.75 sd.
    spike = 6 * 1440 + 210
    distance, _ = stated(request_rate(seed, 1, 7, spike), spike)
    assert distance >= 3.0, distance


def test_hour_spread_finds_the_loud_hours() -> None:
    rng = random.Random(5)
    hours = [i % 24 for i in range(24 * 20)]  # 20 residuals an hour
    resid = [rng.gauss(0.0, 3.0 if 10 <= h <= 14 else 1.0) for h in hours]
    loud = _hour_spread(resid, hours, robust_sd(resid))
    assert loud is not None
    assert 2.0 <= loud[12] / loud[0] <= 4.5, loud
    assert all(1.0 / _HOUR_BOUND <= m <= _HOUR_BOUND for m in loud)


def test_hour_spread_is_one_where_every_hour_is_as_loud() -> None:
    # The James-Stein weight: 24 hours' sampling errors are not loudness.
    ones = 0
    for seed in range(10):
        rng = random.Random(seed)
        hours = [i % 24 for i in range(24 * 16)]
        resid = [rng.gauss(0.0, 1.0) for _ in hours]
        loud = _hour_spread(resid, hours, robust_sd(resid))
        assert loud is not None
        assert all(0.75 <= m <= 1.34 for m in loud), loud  # (on 200 seeds: 1.0 in 83%, 1.29 at worst)
        ones += all(m == 1.0 for m in loud)
    assert ones >= 7


def test_hour_spread_needs_residuals_at_every_hour() -> None:
    hours = [i % 24 for i in range(24 * 3)]  # an hour's pool: 9 residuals, too few
    assert _HOUR_POOL > 9
    resid = [float(i % 7) for i in range(len(hours))]
    assert _hour_spread(resid, hours, robust_sd(resid)) is None
    assert _hour_spread([1.0] * len(hours) * 2, hours * 2, 0.0) is None


@settings(max_examples=60, deadline=None)
@given(
    st.integers(min_value=0, max_value=10_000),
    st.floats(min_value=1e-6, max_value=1e6),
)
def test_hour_spread_is_scale_free(seed: int, unit: float) -> None:
    rng = random.Random(seed)
    hours = [i % 24 for i in range(24 * 6)]
    resid = [rng.gauss(0.0, 1.0 + (h % 5)) for h in hours]
    scaled = [r * unit for r in resid]
    a = _hour_spread(resid, hours, robust_sd(resid))
    b = _hour_spread(scaled, hours, robust_sd(scaled))
    assert a is not None and b is not None
    assert all(math.isclose(x, y, rel_tol=1e-9) for x, y in zip(a, b, strict=True))


def test_net_of_lag_takes_a_slow_bias_out_and_leaves_noise_alone() -> None:
    rng = random.Random(3)
    noise = [rng.gauss(0.0, 1.0) for _ in range(384)]
    # A lag that 90% of 11 residuals share is rare in noise (2 x 12 / 2048 per point).
    assert sum(a != b for a, b in zip(_net_of_lag(noise, 11), noise, strict=True)) <= len(noise) // 50
    biased = [r + 40.0 * math.sin(math.pi * i / 384) for i, r in enumerate(noise)]
    net = _net_of_lag(biased, 11)
    assert len(net) == len(biased)
    assert robust_sd(biased) > 8.0
    # (The lag trails the bias by about half its 11 residuals, as a window's lag trails it: where the
    # bias is steep, 2 noise sd of it are left.)
    assert 0.7 <= robust_sd(net) <= 2.0, robust_sd(net)


def test_a_model_from_an_older_checkpoint_has_no_spread_by_hour() -> None:
    # A stream's checkpoint keeps the classifier's models of its last checkpoints (its memo).
    model = _Model("calendar", 2.0, 0.1, 288, None, tuple([1.5] * 24), fit=0.2)
    again = pickle.loads(pickle.dumps(model))
    assert (again.hours, again.fit, again.sd, again.period) == (model.hours, 0.2, 0.1, 288)
    old = _Model.__new__(_Model)
    old.__setstate__((None, {"route": "calendar", "scale": 2.0, "sd": 0.1, "period": 288, "base": None}))
    assert old.hours is None and old.fit == 0.1 and old.route == "calendar"


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_a_spike_in_a_window_that_runs_a_little_off_its_cycle_is_a_spike(seed: int) -> None:
    # The rest of a spike's window is judged on its spread around its own mean: a window that runs
    # 2 sd below the cycle (a quieter night) around a spike of 12 sd is a spike, not a changed shape.
    rng = random.Random(seed)
    period = 24
    cycle = [10.0 * math.sin(2 * math.pi * i / period) for i in range(period * 9 + 10)]
    history = [c + rng.gauss(0.0, 1.0) for c in cycle[: period * 8]]
    window = [c - 2.0 + rng.gauss(0.0, 1.0) for c in cycle[period * 8 : period * 8 + 10]]
    window[5] += 14.0
    clf = ExplanationClassifier()
    assert clf.classify_values(history, window) is AnomalyType.SPIKE
    # A changed shape around a spike is still one: the cycle's phase moved by a quarter.
    moved = [cycle[period * 8 + i + period // 4] + rng.gauss(0.0, 1.0) for i in range(10)]
    moved[5] += 14.0
    assert clf.classify_values(history, moved) is AnomalyType.SEASONAL


def zero_nights(seed: int, spike: int) -> MetricSeries:
    """Busy 07:00-20:00 (a half sine up to 100, noise 3), exactly 0 outside; 1-minute steps over 7
    days; a spike of 15 noise sd at index ``spike``."""
    rng = random.Random(seed)
    values = []
    for i in range(7 * 1440):
        minute = i % 1440
        busy = 420 <= minute < 1200
        v = 100.0 * math.sin(math.pi * (minute - 420) / 780) + rng.gauss(0.0, 3.0) if busy else 0.0
        values.append(v + (45.0 if i == spike else 0.0))
    times = [(MONDAY_S + 60 * i) * 1_000_000 for i in range(len(values))]
    return MetricSeries.from_arrays("acme", "c-1", "n-1", "requests", times, values)


@pytest.mark.parametrize("seed", [0, 1])
def test_a_night_at_exactly_zero_does_not_shrink_the_spread(seed: int) -> None:
    # Residuals of exactly 0 where the series and its days held still say nothing of its noise by
    # day: with them, the spread was a fraction of it, a noon spike of 15 sd read 41-67 sd, and
    # every ordinary point of its window was far enough out to make it a changed shape (SEASONAL).
    spike = 4 * 1440 + 720  # Friday noon
    distance, label = stated(zero_nights(seed, spike), spike)
    assert label is AnomalyType.SPIKE
    assert 6.0 <= distance <= 2 * SPIKE_SD, distance
