"""Unit tests of simulator.cycles: determinism, labels inside the series, event sizes as configured."""

from __future__ import annotations

import itertools
import math
import statistics
from dataclasses import replace
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simulator import cycles
from simulator.cycles import (
    FIVE_MINUTES_7_DAYS,
    ONE_MINUTE_3_DAYS,
    CycleFleet,
    CycleFleetConfig,
    generate_cycle_fleet,
)

# Three days at 5 minutes: small enough for many examples, long enough for every event kind.
SMALL = CycleFleetConfig(step_seconds=300, days=3.0)


def dump(fleet: CycleFleet) -> list[tuple[object, ...]]:
    return [(s.series.ids, list(s.series.epoch_us), s.series.values.tolist(), s.events) for s in fleet.series]


def residuals(fleet: CycleFleet, index: int) -> list[float]:
    s = fleet.series[index]
    return [v - e for v, e in zip(s.series.values.tolist(), s.expected, strict=True)]


def test_same_seed_same_fleet_other_seed_other_fleet() -> None:
    """The same seed and configuration give identical series and events; another seed does not."""
    a = generate_cycle_fleet(3, SMALL, n_series=10)
    b = generate_cycle_fleet(3, SMALL, n_series=10)
    c = generate_cycle_fleet(4, SMALL, n_series=10)
    assert dump(a) == dump(b)
    assert dump(a) != dump(c)


def test_a_smaller_fleet_is_a_prefix_of_a_larger_one() -> None:
    """Series i does not depend on how many series are drawn."""
    small = generate_cycle_fleet(9, SMALL, n_series=4)
    large = generate_cycle_fleet(9, SMALL, n_series=11)
    assert dump(small) == dump(large)[:4]


@settings(max_examples=15)
@given(seed=st.integers(0, 2**32), n=st.integers(1, 12))
def test_every_label_lies_inside_its_series(seed: int, n: int) -> None:
    """Onset and end lie in [event_start, n_points - tail_points]; kinds and owners are consistent."""
    fleet = generate_cycle_fleet(seed, SMALL, n_series=n)
    first = round(SMALL.event_start_days * 86_400 / SMALL.step_seconds)
    for index, s in enumerate(fleet.series):
        assert len(s.series) == SMALL.n_points
        assert s.kind == SMALL.kinds[index % len(SMALL.kinds)]
        assert (not s.events) == (s.kind == "clean")
        for e in s.events:
            assert e.series_index == index
            assert first <= e.onset < e.end <= SMALL.n_points - SMALL.tail_points
            assert e.onset + 30 < SMALL.n_points
        onsets = [e.onset for e in s.events]
        assert onsets == sorted(onsets)


@settings(max_examples=15)
@given(seed=st.integers(0, 2**32), n=st.integers(1, 8))
def test_extra_kinds_place_their_events_as_documented(seed: int, n: int) -> None:
    """incident_then_spike: a shift, then a spike 12-30 h after it; permanent_shift: a step to the end."""
    config = replace(SMALL, kinds=cycles.EXTRA_KINDS)
    first = round(config.event_start_days * 86_400 / config.step_seconds)
    per_hour = 3_600 // config.step_seconds
    fleet = generate_cycle_fleet(seed, config, n_series=n)
    for index, s in enumerate(fleet.series):
        if s.kind == "incident_then_spike":
            shift, spike = s.events
            assert (shift.kind, spike.kind) == ("level_shift", "spike_after_incident")
            assert first <= shift.onset < shift.end
            assert 12 * per_hour <= spike.onset - shift.end <= 30 * per_hour
            assert spike.end <= config.n_points - config.tail_points
            assert spike.expected_label == "spike"
        else:
            (step,) = s.events
            assert step.kind == "permanent_shift" and step.expected_label == "trend"
            assert first <= step.onset < config.n_points - config.tail_points
            assert step.end == config.n_points
            # The step is there from its onset to the last point.
            residual = residuals(fleet, index)
            assert statistics.fmean(residual[step.onset :]) == pytest.approx(step.size, abs=0.5 * s.noise_sd)


def test_presets_have_the_documented_lengths() -> None:
    """1 minute over 3 days is 4320 points; 5 minutes over 7 days is 2016 points."""
    assert (ONE_MINUTE_3_DAYS.n_points, ONE_MINUTE_3_DAYS.points_per_day) == (4320, 1440)
    assert (FIVE_MINUTES_7_DAYS.n_points, FIVE_MINUTES_7_DAYS.points_per_day) == (2016, 288)


def test_event_sizes_are_as_configured() -> None:
    """Each event moves its points by its size (within noise), and sizes lie in the configured ranges."""
    config = replace(SMALL, spike_sd=(9.0, 10.0), shift_sd=(11.0, 12.0), ramp_sd=(13.0, 14.0))
    fleet = generate_cycle_fleet(21, config, n_series=20)
    ranges = {
        "spike": config.spike_sd,
        "repeated_spike": config.spike_sd,
        "level_shift": config.shift_sd,
        "ramp": config.ramp_sd,
    }
    for index, s in enumerate(fleet.series):
        res = residuals(fleet, index)
        for e in s.events:
            lo, hi = ranges[e.kind]
            assert lo <= e.size_sd <= hi
            assert e.size == pytest.approx(math.copysign(e.size_sd * s.noise_sd, e.size))
            if e.kind == "ramp":
                top = res[e.onset + config.ramp_points[1] : e.end]  # the hold, after the longest rise
                assert abs(statistics.fmean(top) - e.size) < 1.0 * s.noise_sd
                assert abs(res[e.onset] - e.size / (e.end - e.onset)) < 6 * s.noise_sd + abs(e.size)
            else:
                for i in range(e.onset, e.end):
                    assert abs(res[i] - e.size) < 6 * s.noise_sd
            before = res[max(0, e.onset - 60) : e.onset]
            assert abs(statistics.fmean(before)) < 1.0 * s.noise_sd


def test_repeated_spikes_are_equal_and_spread_out() -> None:
    """A train holds `repeats` spikes of one width and one size, at least half a slice apart."""
    config = replace(ONE_MINUTE_3_DAYS, kinds=("repeated_spikes",))
    fleet = generate_cycle_fleet(5, config, n_series=3)
    first = config.points_per_day
    slice_points = (config.n_points - config.tail_points - first) / config.repeats
    for s in fleet.series:
        train = s.events
        assert [e.occurrence for e in train] == list(range(config.repeats))
        assert len({(e.size, e.end - e.onset) for e in train}) == 1
        gaps = [b.onset - a.end for a, b in itertools.pairwise(train)]
        assert min(gaps) >= slice_points / 2 - (train[0].end - train[0].onset) - 1
        days = {e.onset // config.points_per_day for e in train}
        assert len(days) >= 2


def test_clean_series_are_cycle_plus_noise_of_the_stated_size() -> None:
    """On a clean series the residual has the noise sd and the cycle's swing is about 20 sd."""
    config = replace(ONE_MINUTE_3_DAYS, kinds=("clean",))
    fleet = generate_cycle_fleet(8, config, n_series=4)
    for index, s in enumerate(fleet.series):
        assert s.events == ()
        sd = statistics.pstdev(residuals(fleet, index))
        assert 0.9 * s.noise_sd < sd < 1.1 * s.noise_sd
        swing = (max(s.expected) - min(s.expected)) / s.noise_sd
        assert config.swing_sd[0] * 0.99 <= swing <= config.swing_sd[1] * 1.01
        assert s.swing / s.noise_sd == pytest.approx(swing, rel=0.01)


def test_the_cycle_follows_the_timestamps_time_of_day() -> None:
    """The expected value repeats every day, and moving the start by 6 h moves the cycle with it."""
    config = replace(SMALL, kinds=("clean",), shapes=("business",))
    a = generate_cycle_fleet(2, config, n_series=1).series[0]
    per_day = config.points_per_day
    assert a.expected[:per_day] == pytest.approx(a.expected[per_day : 2 * per_day])
    later = replace(config, start=config.start + timedelta(hours=6))
    b = generate_cycle_fleet(2, later, n_series=1).series[0]
    shift = 6 * 3600 // config.step_seconds
    ratio = (a.expected[shift] - a.level) / (b.expected[0] - b.level)
    assert ratio == pytest.approx(a.swing / b.swing)


def test_every_shape_is_scaled_to_the_swing() -> None:
    """Each cycle shape spans exactly [-1, 1] over a day at 1-minute steps."""
    for shape in cycles.SHAPES:
        config = replace(ONE_MINUTE_3_DAYS, kinds=("clean",), shapes=(shape,))
        s = generate_cycle_fleet(1, config, n_series=1).series[0]
        day = [(v - s.level) / (s.swing / 2) for v in s.expected[: config.points_per_day]]
        assert min(day) == pytest.approx(-1.0, abs=1e-3)
        assert max(day) == pytest.approx(1.0, abs=1e-3)


@pytest.mark.parametrize(
    ("change", "exc", "words"),
    [
        ({"step_seconds": 7}, ValueError, "step_seconds: expected a positive int that divides 86400, got 7"),
        ({"step_seconds": 60.0}, TypeError, "step_seconds: expected an int"),
        ({"days": 0.5}, ValueError, "events need"),
        ({"kinds": ("clean", "spiky")}, ValueError, "kinds[1]: expected one of"),
        ({"spike_sd": (15.0, 8.0)}, ValueError, "spike_sd: expected finite low <= high"),
        ({"spike_points": (1.0, 3.0)}, TypeError, "spike_points: expected a pair (low, high) of ints"),
        ({"up_probability": 1.5}, ValueError, "up_probability: expected a number in [0, 1]"),
        ({"weekend": (0.0, 0.5)}, ValueError, "weekend: expected finite low <= high, both >= 0.001"),
        (
            {"weekend_utc_offset_minutes": 900},
            ValueError,
            "weekend_utc_offset_minutes: expected an int number",
        ),
        ({"weekend_utc_offset_minutes": 1.5}, TypeError, "weekend_utc_offset_minutes: expected an int"),
        ({"start": datetime(2024, 1, 1)}, TypeError, "start: expected a timezone-aware datetime"),
    ],
)
def test_bad_configuration_is_refused_with_a_clear_message(
    change: dict[str, object], exc: type[Exception], words: str
) -> None:
    """A bad field raises, naming the field, what was expected and what was given."""
    with pytest.raises(exc) as info:
        replace(SMALL, **change)  # type: ignore[arg-type]
    assert "CycleFleetConfig" in str(info.value)
    assert words in str(info.value)


def test_bad_arguments_to_the_generator_are_refused() -> None:
    """A negative count or a non-int seed is an error that says so."""
    with pytest.raises(ValueError, match="n_series must be an int >= 0, got -1"):
        generate_cycle_fleet(1, SMALL, n_series=-1)
    with pytest.raises(TypeError, match="seed must be an int"):
        generate_cycle_fleet("1", SMALL, n_series=1)  # type: ignore[arg-type]


def test_start_other_than_utc_midnight_is_honoured() -> None:
    """The first timestamp is the configured start, and steps are the configured step."""
    start = datetime(2024, 3, 5, 13, 7, tzinfo=timezone.utc)
    config = replace(SMALL, start=start)
    s = generate_cycle_fleet(1, config, n_series=1).series[0].series
    assert s.timestamps[0] == start
    assert s.timestamps[1] - s.timestamps[0] == timedelta(seconds=300)


def test_a_weekly_rhythm_scales_the_weekend_cycle_and_nothing_else() -> None:
    """With ``weekend`` set, Saturdays and Sundays (UTC) run at one factor of the weekday cycle.

    Everything else (noise, events, weekdays) is the fleet drawn without it.
    """
    config = replace(FIVE_MINUTES_7_DAYS, weekend=(0.4, 0.7))
    plain = generate_cycle_fleet(5, FIVE_MINUTES_7_DAYS, n_series=6)
    weekly = generate_cycle_fleet(5, config, n_series=6)
    per_day = config.points_per_day
    for a, b in zip(plain.series, weekly.series, strict=True):
        assert a.events == b.events
        factors = {round(w / p, 9) for p, w in zip(a.expected, b.expected, strict=True)}
        weekend = [b.expected[i] / a.expected[i] for i in range(5 * per_day, 7 * per_day)]
        assert len(factors) == 2 and 0.4 <= min(factors) <= 0.7 and max(factors) == 1.0
        assert weekend == pytest.approx([min(factors)] * len(weekend))
        assert b.expected[: 5 * per_day] == a.expected[: 5 * per_day]  # 2024-01-01 is a Monday
        noise_a, noise_b = residuals(plain, plain.series.index(a)), residuals(weekly, weekly.series.index(b))
        assert noise_b == pytest.approx(noise_a, abs=1e-9 * a.level)


def test_a_weekly_rhythm_in_local_time_moves_the_weekend_edges() -> None:
    """With ``weekend_utc_offset_minutes=-480`` the weekend runs from Saturday 08:00 to Monday 08:00 UTC."""
    config = replace(FIVE_MINUTES_7_DAYS, weekend=(0.5, 0.5), weekend_utc_offset_minutes=-480)
    plain = generate_cycle_fleet(5, FIVE_MINUTES_7_DAYS, n_series=1).series[0]
    local = generate_cycle_fleet(5, config, n_series=1).series[0]
    per_day, per_hour = config.points_per_day, 12
    ratio = [w / p for p, w in zip(plain.expected, local.expected, strict=True)]
    monday_8h, saturday_8h = 8 * per_hour, 5 * per_day + 8 * per_hour  # the series starts Monday 00:00 UTC
    assert ratio[:monday_8h] == pytest.approx([0.5] * monday_8h)  # still Sunday in UTC-8
    assert ratio[monday_8h:saturday_8h] == [1.0] * (saturday_8h - monday_8h)
    assert ratio[saturday_8h:] == pytest.approx([0.5] * (7 * per_day - saturday_8h))
