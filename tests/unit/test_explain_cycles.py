"""The explanation classifier on daily cycles read from timestamps (issue 10, item 5).

A spike or a level shift on a cycle is SPIKE or TREND, wherever it lands in the
range the cycle has seen; SEASONAL is kept for a changed shape. Generated
series: a daily cycle of a 20-sd swing at 1, 5, 15 and 60-minute steps, 3 days
of history, a few seeds (on 60 seeds of the same draws the verdicts below
held for 99% of the spikes and shifts at each step; at an hour a step the
spread is measured on one day's 24 points, the hardest case).
"""

from __future__ import annotations

import math
import random
from datetime import datetime, timezone

import pytest

from backend.analytics import AnomalyResult, AnomalyType, ExplanationClassifier, MetricSeries, TimeWindow
from backend.analytics.explain import _same_phase

DAY_S = 86_400
T0_S = 1_717_200_000 - 1_717_200_000 % DAY_S  # a midnight UTC (2024-06-01, a Saturday)
STEPS = (1, 5, 15, 60)


def day_shape(seed: int) -> tuple[float, float]:
    rng = random.Random(seed)
    return rng.uniform(0.0, DAY_S), rng.uniform(0.0, 0.5)


def clean(seed: int, times: list[int], swing: float = 30.0) -> list[float]:
    """A daily cycle (a sine and its second harmonic, peak at a random hour) around 100."""
    peak, a2 = day_shape(seed)
    tau = 2 * math.pi
    return [
        100.0
        + 0.5 * swing * (math.cos(tau * (t - peak) / DAY_S) + a2 * math.cos(2 * tau * (t - peak) / DAY_S))
        for t in times
    ]


def noisy_cycle(seed: int, step_min: int, days: float, window: int) -> tuple[list[int], list[float], int]:
    """Timestamps (s), values with unit noise, and the window's first index (the window ends the series)."""
    step = 60 * step_min
    hist = round(days * DAY_S / step)
    times = [T0_S + i * step for i in range(hist + window)]
    rng = random.Random(seed + 1000 * step_min)
    values = [c + rng.gauss(0.0, 1.0) for c in clean(seed, times)]
    return times, values, hist


def series_of(times: list[int], values: list[float]) -> MetricSeries:
    return MetricSeries.from_arrays("acme", "c-1", "n-1", "requests", [t * 1_000_000 for t in times], values)


def verdict(times: list[int], values: list[float], start: int) -> AnomalyType:
    s = series_of(times, values)
    w = TimeWindow(start, len(s), s.timestamps[start], s.timestamps[len(s) - 1])
    return ExplanationClassifier().classify(s, w)


def inside_range(values: list[float], start: int, points: list[int]) -> bool:
    """Whether ``values[i]`` for ``i`` in ``points`` lie within the range the history has seen."""
    seen = values[:start]
    return all(min(seen) <= values[i] <= max(seen) for i in points)


def window_points(step_min: int) -> int:
    return {1: 40, 5: 40, 15: 16, 60: 10}[step_min]


def around_mid(seed: int, step_min: int) -> tuple[list[int], list[float], int, int]:
    """A cycle with 3 days of history; a window whose middle point is where the cycle is near its middle."""
    w = window_points(step_min)
    times, values, hist = noisy_cycle(seed, step_min, 3.0, 24 * 60 // step_min + w)
    c = clean(seed, times)
    mid = (max(c) + min(c)) / 2.0
    start = min(range(hist, hist + 24 * 60 // step_min), key=lambda i: abs(c[i + w // 2] - mid))
    return times[: start + w], values[: start + w], start, w


@pytest.mark.parametrize("step_min", STEPS)
@pytest.mark.parametrize("seed", [101, 102, 103])
def test_a_level_shift_on_a_cycle_is_trend_even_inside_its_range(step_min: int, seed: int) -> None:
    times, values, start, w = around_mid(seed, step_min)
    at = start + w // 2
    assert verdict(times, values, start) is AnomalyType.NORMAL
    for move in (-9.0, 9.0):
        shifted = values[:at] + [v + move for v in values[at:]]
        assert inside_range(shifted, start, [at])
        assert verdict(times, shifted, start) is AnomalyType.TREND


@pytest.mark.parametrize("step_min", STEPS)
@pytest.mark.parametrize("seed", [104, 105, 106])
def test_a_spike_on_a_cycle_is_spike_even_inside_its_range(step_min: int, seed: int) -> None:
    times, values, start, w = around_mid(seed, step_min)
    at = start + w // 2
    for move in (-9.0, 9.0):
        spiked = list(values)
        spiked[at] += move
        assert inside_range(spiked, start, [at])
        assert verdict(times, spiked, start) is AnomalyType.SPIKE


@pytest.mark.parametrize("step_min", STEPS)
@pytest.mark.parametrize("seed", [7, 8])
def test_a_changed_cycle_shape_is_seasonal(step_min: int, seed: int) -> None:
    """A day whose cycle moved by 8 hours, or lost 2/3 of its swing, is SEASONAL; a plain day NORMAL."""
    per_day = 24 * 60 // step_min
    times, values, hist = noisy_cycle(seed, step_min, 3.0, per_day)
    assert verdict(times, values, hist) is AnomalyType.NORMAL
    c = clean(seed, times)
    moved = (
        values[:hist]
        + [v - c[i] + clean(seed, [times[i] + 8 * 3600])[0] for i, v in enumerate(values)][hist:]
    )
    assert verdict(times, moved, hist) is AnomalyType.SEASONAL
    damped = values[:hist] + [v - (c[i] - 100.0) * 2.0 / 3.0 for i, v in enumerate(values)][hist:]
    assert verdict(times, damped, hist) is AnomalyType.SEASONAL


@pytest.mark.parametrize("step_min", [1, 5])
def test_a_missing_nightly_batch_peak_is_seasonal(step_min: int) -> None:
    """A narrow daily peak (a 40-minute batch job) is a cycle; a day without it is SEASONAL."""
    step = 60 * step_min
    per_day = DAY_S // step
    n = 4 * per_day
    rng = random.Random(step_min)
    times = [T0_S + i * step for i in range(n)]
    job = [30.0 if 2 * 3600 <= t % DAY_S < 2 * 3600 + 2400 else 0.0 for t in times]
    values = [50.0 + j + rng.gauss(0.0, 1.0) for j in job]
    start = 3 * per_day
    assert verdict(times, values, start) is AnomalyType.NORMAL
    missing = [v - j if i >= start else v for i, (v, j) in enumerate(zip(values, job, strict=True))]
    assert verdict(times, missing, start) is AnomalyType.SEASONAL


def test_a_quiet_weekend_day_is_normal_when_the_history_has_weekends() -> None:
    """Weekends at 30% of the weekday swing: a plain Sunday is NORMAL, a weekday-shaped one is not."""
    step = 600
    per_day = DAY_S // step
    n = 10 * per_day
    times = [T0_S + i * step for i in range(n)]  # from a Saturday: the last day is a Monday
    rng = random.Random(3)

    def at(t: int) -> float:
        weekend = ((t // DAY_S) - 4) % 7 >= 5
        return 100.0 + (0.3 if weekend else 1.0) * 10.0 * math.sin(2 * math.pi * (t % DAY_S) / DAY_S)

    values = [at(t) + rng.gauss(0.0, 1.0) for t in times]
    sunday = 8 * per_day  # 2024-06-09
    assert ((times[sunday] // DAY_S) - 4) % 7 == 6
    assert verdict(times[: sunday + per_day], values[: sunday + per_day], sunday) is AnomalyType.NORMAL
    weekday_like = values[:sunday] + [
        v + at(times[i] + 2 * DAY_S) - at(times[i])
        for i, v in enumerate(values[sunday : sunday + per_day], sunday)
    ]
    assert verdict(times[: sunday + per_day], weekday_like, sunday) is AnomalyType.SEASONAL


def test_the_sentence_names_the_daily_cycle_and_its_expectation() -> None:
    times, values, start, w = around_mid(9, 1)
    end = start + w
    shifted = values[: start + 20] + [v + 10.0 for v in values[start + 20 :]]
    s = series_of(times, shifted)
    result = AnomalyResult(*s.ids, s.timestamps[start], s.timestamps[end - 1], 0.9, AnomalyType.TREND)
    text = ExplanationClassifier().explain(s, result)
    assert "rose to" in text and "its daily cycle expected there" in text, text


def test_a_gap_in_the_window_does_not_misalign_the_cycle() -> None:
    """Same time of day is read by index on regular steps only: across a gap the daily cycle is not used.

    (1-minute steps: the day, 1,440 points, is beyond the autocorrelation's periods, which are
    also read by index, as they always were.)
    """
    times, values, start, w = around_mid(110, 1)
    at = start + w // 2
    # A 7-hour hole in the window; the values after it follow the cycle at their own time of day.
    gap = 7 * 3600
    shifted = times[:at] + [t + gap for t in times[at:]]
    rng = random.Random(5)
    moved = values[:at] + [c + rng.gauss(0.0, 1.0) for c in clean(110, shifted[at:])]
    s = series_of(shifted, moved)
    j = ExplanationClassifier()._judge_span(s, start, len(s))
    assert j.period is None  # judged against the recent level, not a misaligned cycle


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_zscore_finds_and_labels_a_shift_and_a_spike_on_a_one_minute_daily_cycle(seed: int) -> None:
    """Through an engine (issue 10's example): 3 days at 1 minute, a 20-sd daily swing; a 10-sd level
    shift on day 3 is found and labelled TREND, a 12-sd spike SPIKE."""
    from backend.analytics.engines.zscore import ZScoreEngine

    rng = random.Random(seed)
    n = 3 * 1440
    us = [T0_S * 1_000_000 + i * 60_000_000 for i in range(n)]
    values = [
        100 + 10 * math.sin(2 * math.pi * (i / 1440 + 0.1 * seed)) + rng.gauss(0, 0.5) for i in range(n)
    ]
    at = 2 * 1440 + 600 + 37 * seed
    cases = {
        AnomalyType.TREND: values[:at] + [v + 5.0 for v in values[at:]],
        AnomalyType.SPIKE: [*values[:at], values[at] + 6.0, *values[at + 1 :]],
    }
    for kind, vals in cases.items():
        s = MetricSeries.from_arrays("acme", "c-1", "n-1", "requests", us, vals)
        found = [r for r in ZScoreEngine().detect(s) if r.is_anomalous and r.window_end >= s.timestamps[at]]
        assert found, kind
        assert found[0].anomaly_label is kind
        assert found[0].explanation is not None and "daily cycle expected" in found[0].explanation


def test_days_of_the_same_kind_are_read_in_local_time() -> None:
    """Sunday 20:00 in UTC-8 is Monday 04:00 UTC: with the offset its same-kind days are weekend days."""
    hour = 3_600_000_000
    monday = int(datetime(2024, 1, 1, tzinfo=timezone.utc).timestamp() * 1_000_000)
    us = [monday + i * hour for i in range(24 * 21)]
    # 1.0 on local weekdays, 0.0 on local (UTC-8) Saturdays and Sundays.
    vals = [0.0 if ((t - 8 * hour - monday) // (24 * hour)) % 7 >= 5 else 1.0 for t in us]
    j = 24 * 14 + 4  # Monday of week 3, 04:00 UTC: Sunday 20:00 in UTC-8
    assert _same_phase(vals, us, j, 24, 0, j, 1.0, -480) == 0.0  # the weekend days before it
    assert _same_phase(vals, us, j, 24, 0, j, 1.0) == 1.0  # read in UTC: a Monday, among weekdays
