"""benchmarks/bench_audit.py: its episodes and its random-start series, on small inputs."""

from __future__ import annotations

import math
import random
import statistics
from datetime import datetime, timedelta, timezone
from itertools import pairwise

from backend.analytics import AnomalyResult, AnomalyType
from tests.bench_scripts import load_benchmark

T0 = datetime(2024, 1, 1, tzinfo=timezone.utc)
W = timedelta(minutes=10)


def result(k: int, score: float) -> AnomalyResult:
    label = AnomalyType.SPIKE if score >= 0.5 else AnomalyType.NORMAL
    return AnomalyResult("t", "c", "n", "m", T0 + k * W, T0 + k * W + W - timedelta(minutes=1), score, label)


def test_episodes_are_the_first_windows_of_runs_of_anomalous_windows() -> None:
    episodes = load_benchmark("bench_audit").episodes
    rows = [result(k, s) for k, s in enumerate([0.1, 0.6, 0.7, 0.2, 0.9, 0.3, 0.5])]
    assert [r.window_start for r in episodes(rows)] == [T0 + W, T0 + 4 * W, T0 + 6 * W]
    assert episodes([]) == []


def test_random_start_series_are_deterministic_and_start_where_they_say() -> None:
    make = load_benchmark("bench_audit").random_start_series
    first, again = make(7, n=3), make(7, n=3)
    assert [s.values for _, _, s in first] == [s.values for _, _, s in again]
    for t0, shape, series in first:
        assert series.timestamps[0] == t0
        step = 1 if shape.endswith("1") else 5
        assert series.timestamps[1] - t0 == timedelta(minutes=step)
        assert len(series) == 8 * 1440 // step
    assert [s.values for _, _, s in make(8, n=3)] != [s.values for _, _, s in first]


def test_growing_series_grow_by_their_rate_and_are_deterministic() -> None:
    audit = load_benchmark("bench_audit")
    series, rate, noise = audit.growing_series(600, 3.0, 5)
    again, _, _ = audit.growing_series(600, 3.0, 5)
    assert series.values == again.values
    assert 0.015 <= rate <= 0.045 and 0.01 <= noise <= 0.03
    assert len(series) == 14 * 288 and series.timestamps[1] - series.timestamps[0] == timedelta(minutes=5)
    first, last = series.values[:288], series.values[-288:]  # a whole day each: the cycle averages out
    assert abs(sum(last) / sum(first) / (1 + rate) ** 13 - 1) < 0.02
    one_minute, _, _ = audit.growing_series(600, 3.0, 1)
    assert len(one_minute) == 14 * 1440


def test_poisson_counts_have_their_rates() -> None:
    audit = load_benchmark("bench_audit")
    draws = audit.poisson_counts(random.Random(1), [0.2] * 20_000 + [5.0] * 20_000)
    assert all(d >= 0 and d == int(d) for d in draws)
    assert abs(sum(draws[:20_000]) / 20_000 - 0.2) < 0.02
    assert abs(sum(draws[20_000:]) / 20_000 - 5.0) < 0.1
    assert draws == audit.poisson_counts(random.Random(1), [0.2] * 20_000 + [5.0] * 20_000)


def test_job_series_hold_their_runs_and_spikes_clear_of_them() -> None:
    audit = load_benchmark("bench_audit")
    series, spikes, runs = audit.job_series(700, "hourly-1min")
    again, spikes_again, runs_again = audit.job_series(700, "hourly-1min")
    assert series.values == again.values and spikes == spikes_again and runs == runs_again
    assert len(series) == 7 * 1440 and series.timestamps[1] - series.timestamps[0] == timedelta(minutes=1)
    # One run an hour, each 0-3 minutes late and 3-7 minutes long.
    assert len(runs) == 7 * 24
    assert all(0 <= begin - 60 * k <= 3 and 3 <= end - begin <= 7 for k, (begin, end) in enumerate(runs))
    # The runs stand out from the points beside them; the six spikes are on days 3+, clear of every run.
    on = [i for i in range(len(series)) if any(b <= i < e for b, e in runs)]
    off = [i for i in range(len(series)) if all(not b - 3 <= i < e + 3 for b, e in runs) and i not in spikes]
    mean_on = sum(series.values[i] for i in on) / len(on)
    mean_off = sum(series.values[i] for i in off) / len(off)
    assert abs(mean_on - mean_off) > 5.0
    assert len(spikes) == 6 and min(spikes) >= 3 * 1440
    assert all(not b - 2 <= i < e + 2 for i in spikes for b, e in runs)
    daily, _, daily_runs = audit.job_series(701, "daily-5min")
    assert len(daily) == 10 * 288 and len(daily_runs) == 10
    assert all(120 <= begin - 1440 * k <= 165 for k, (begin, _) in enumerate(daily_runs))


def test_flap_series_sit_on_two_levels_and_their_spikes_stand_above_both() -> None:
    audit = load_benchmark("bench_audit")
    switches = {}
    for kind in ("iid", "runs"):
        series, spikes, highs = audit.flap_series(900, kind)
        again, spikes_again, highs_again = audit.flap_series(900, kind)
        assert (series.values, spikes, highs) == (again.values, spikes_again, highs_again)
        assert len(series) == 5 * 1440 and series.timestamps[1] - series.timestamps[0] == timedelta(minutes=1)
        assert len(spikes) == 4 and min(spikes) >= 3 * 1440 and len(highs) == len(series)
        # Two levels, each visited often: a neighbour on the other level is typically a gap (5 noise sd
        # or more) away, one on the same level is not (the daily sine moves it little in a minute).
        assert 0.05 < sum(highs) / len(highs) < 0.95
        steps = [(abs(b - a), highs[i] != highs[i + 1]) for i, (a, b) in enumerate(pairwise(series.values))]
        apart = statistics.median(d for d, switched in steps if switched)
        along = statistics.median(d for d, switched in steps if not switched)
        assert apart > 3.0 * along
        # Every spike stands above anything the series reached within half an hour of it.
        for i in spikes:
            near = [v for j, v in enumerate(series.values[i - 30 : i + 31], i - 30) if j not in spikes]
            assert series.values[i] > max(near)
        switches[kind] = sum(a != b for a, b in pairwise(highs))
    assert switches["runs"] < switches["iid"]  # runs stay on a level for minutes
    heavy, heavy_spikes, none = audit.flap_series(900, "heavy")
    assert none == [] and all(v > 0.0 for v in heavy.values)
    assert all(heavy.values[i] >= 4.0 * max(heavy.values[:i]) for i in heavy_spikes)


def test_gap_series_sample_the_same_day_as_they_say() -> None:
    """Each way of sampling: the gaps and the jitter it names, and the two spikes on kept points."""
    make = load_benchmark("bench_audit").gap_series
    full = 7 * 1440
    for kind in ("regular", "jitter", "missed", "missed-runs", "gap-6h", "gap-2d"):
        series, spikes = make(3, kind)
        assert series.values == make(3, kind)[0].values  # deterministic
        stamps = series.timestamps
        steps = [(b - a).total_seconds() for a, b in pairwise(stamps)]
        assert len(spikes) == 2 and all(t in stamps for t in spikes)
        if kind == "regular":
            assert len(series) == full and set(steps) == {60.0}
        elif kind == "jitter":
            assert len(series) == full and min(steps) >= 54.0 and max(steps) <= 66.0 and len(set(steps)) > 100
        elif kind == "gap-6h":
            assert len(series) == full - 360 and max(steps) == 361 * 60.0
        elif kind == "gap-2d":
            assert len(series) == full - 2880 and max(steps) == 2881 * 60.0
        else:
            assert 0.9 * full < len(series) < full and max(steps) <= 11 * 60.0


def test_shape_series_hold_what_they_say() -> None:
    """Each kind of metric: its length and step, its event where it says, and spikes on its last two days."""
    make = load_benchmark("bench_audit").shape_series
    for kind in load_benchmark("bench_audit").SHAPES:
        series, spikes, event = make(2, kind)
        assert series.values == make(2, kind)[0].values  # deterministic
        step = 5 if kind in ("noisier", "holiday") else 1
        per_day = 1440 // step
        assert len(series) == (21 if step == 5 else 7) * per_day
        assert series.timestamps[1] - series.timestamps[0] == timedelta(minutes=step)
        assert all(i >= len(series) - 2 * per_day for i in spikes)
        assert len(spikes) == (0 if kind == "sawtooth" else 2)
        v = series.values
        if kind == "saturated":
            assert event is not None and list(v[event : event + 60]) == [100.0] * 60
            assert max(v[: 2 * per_day]) < 100.0
        elif kind == "replicas":
            assert all(x == int(x) for x in v) and event is None
        elif kind == "deploy-shift":
            assert event is not None
            after, day_before = v[event : event + 60], v[event - 1440 : event - 1380]
            assert statistics.mean(after) - statistics.mean(day_before) > 15.0
        elif kind == "first-day-incident":  # +20 for 2-8 hours from 06:00-14:00 on day 0, then gone
            assert event is not None and 360 <= event < 840
            during, day_after = v[event : event + 120], v[event + 1440 : event + 1560]
            day_before_shape = [100.0 * (1 + 0.2 * math.sin(2 * math.pi * (i % 1440) / 1440 - math.pi / 2))
                                for i in range(event, event + 120)]
            assert statistics.mean(during) - statistics.mean(day_before_shape) > 15.0
            assert abs(statistics.mean(day_after) - statistics.mean(day_before_shape)) < 2.0
        elif kind == "night-noise":  # about 3 times as loud at midnight as at noon, on every day
            assert event is None
            nights = [v[d * 1440 + m] - v[d * 1440 + m - 1] for d in range(1, 5) for m in range(1, 60)]
            noons = [v[d * 1440 + m] - v[d * 1440 + m - 1] for d in range(1, 5) for m in range(690, 750)]
            assert 2.0 < statistics.pstdev(nights) / statistics.pstdev(noons) < 4.5
            assert all(660 <= i % 1440 < 780 for i in spikes)
        elif kind == "holiday":
            assert event == 14 * per_day  # a Monday: as low as the Sunday before it
            monday, sunday = v[event : event + per_day], v[event - per_day : event]
            assert abs(statistics.mean(monday) - statistics.mean(sunday)) < 2.0
            week_before = v[event - 7 * per_day : event - 6 * per_day]
            assert statistics.mean(week_before) - statistics.mean(monday) > 5.0


def test_traffic_series_have_their_trough_noise_and_spikes() -> None:
    """A request rate: its trough at midnight at the share asked of the noon peak, noise growing with the
    level (so the peak's is louder), and four spikes of 15 times the local noise on the last two days."""
    make = load_benchmark("bench_audit").traffic_series
    for noise, trough in (("mult", 0.1), ("poisson", 0.4)):
        for step in (1, 5):
            series, spikes = make(3, noise, trough, step)
            assert series.values == make(3, noise, trough, step)[0].values  # deterministic
            per_day = 1440 // step
            assert len(series) == (7 if step == 1 else 14) * per_day
            assert series.timestamps[1] - series.timestamps[0] == timedelta(minutes=step)
            v = series.values
            day = 2 * per_day  # a Wednesday, clear of the spikes
            night = v[day : day + 30 // step]
            noon = v[day + per_day // 2 - 15 // step : day + per_day // 2 + 15 // step]
            ratio = statistics.mean(night) / statistics.mean(noon)
            assert abs(ratio - trough) < 0.1 or (noise == "poisson" and statistics.mean(night) <= 25.0)
            assert statistics.pstdev(noon) > statistics.pstdev(night)
            assert len(spikes) == 4 and all(i >= len(series) - 2 * per_day for i in spikes)
            hours = [series.timestamps[i].hour for i in spikes]
            assert hours == [3, 12, 3, 12]
            for i in spikes:
                neighbours = [*v[i - 3 : i], *v[i + 1 : i + 4]]
                assert v[i] > max(neighbours)
