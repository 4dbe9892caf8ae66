"""The fast zscore scorer equals the straightforward reference bit for bit (tests/zscore_reference.py).

Every expected value here is computed in the same run by the reference scorer
(the scorer as it read before its hot loop was inlined), never stored: on
hypothesis-generated series with any chunking and settings, on daily-cycle
fleets from ``simulator.cycles``, and on NAB files when the corpus is there.
"""

from __future__ import annotations

import dataclasses
import math
import os
import random
from pathlib import Path
from typing import Any, ClassVar

import pytest
from hypothesis import given
from hypothesis import strategies as st

from backend.analytics import MetricSeries
from backend.analytics.engines import ZScoreEngine
from backend.analytics.engines.zscore import ZScoreScorer
from simulator.cycles import EXTRA_KINDS, FIVE_MINUTES_7_DAYS, ONE_MINUTE_3_DAYS, generate_cycle_fleet
from tests.bench_scripts import load_benchmark
from tests.zscore_reference import ReferenceZScoreScorer

REPO = Path(__file__).resolve().parents[2]
NAB_ROOT = Path(os.environ.get("NAB_DATA", REPO.parent / "shared" / "data" / "nab"))
NAB_FILES = (
    "artificialWithAnomaly/art_daily_jumpsup.csv",
    "realKnownCause/machine_temperature_system_failure.csv",
    "realKnownCause/nyc_taxi.csv",
    "realTraffic/occupancy_t4013.csv",
    "realTweets/Twitter_volume_AAPL.csv",
)
T0_US = 1_714_521_600_000_000  # 2024-05-01 00:00 UTC, a Wednesday
SECOND = 1_000_000


def bits(scores: list[float]) -> list[str]:
    """Scores as hex strings: equal lists mean equal bits (0.0 and -0.0 differ, nan equals nan)."""
    return [s.hex() for s in scores]


def chunked(scorer: ZScoreScorer, values: list[float], stamps: list[int], sizes: list[int]) -> list[float]:
    """Feed ``values`` in chunks of ``sizes`` (cycled), a chunk of 1 through ``update``."""
    out: list[float] = []
    i, k = 0, 0
    while i < len(values):
        size = sizes[k % len(sizes)]
        k += 1
        if size == 1:
            out.append(scorer.update(values[i], stamps[i]))
        else:
            out.extend(scorer.update_many(values[i : i + size], stamps[i : i + size]))
        i += size
    return out


def assert_same(values: list[float], stamps: list[int], sizes: list[int], **config: object) -> None:
    want = ReferenceZScoreScorer(**config).update_many(values, stamps)  # type: ignore[arg-type]
    assert bits(ZScoreScorer(**config).update_many(values, stamps)) == bits(want)  # type: ignore[arg-type]
    got = chunked(ZScoreScorer(**config), values, stamps, sizes)  # type: ignore[arg-type]
    assert bits(got) == bits(want)


# Values: ordinary noise and levels, repeated values, zeros, subnormals, and magnitudes near the float
# limit (which the scorer scales, and which can leave the float range once scaled).
values_strategy = st.one_of(
    st.floats(-1e3, 1e3, allow_nan=False),
    st.sampled_from([0.0, -0.0, 1.0, 5e-324, -5e-324, 1e300, -1e300, 1.7e308, -1.7e308]),
    st.integers(-3, 3).map(float),
)


@st.composite
def series_strategy(draw: st.DrawFn) -> tuple[list[float], list[int]]:
    """Up to 700 points over up to ~4 weeks: steps from 1 s to 4 h, irregular, crossing days and weekends."""
    base = draw(st.sampled_from([SECOND, 17 * SECOND, 60 * SECOND, 300 * SECOND, 3600 * SECOND]))
    n = draw(st.integers(0, 700))
    gaps = draw(st.lists(st.sampled_from([1, 1, 1, 1, 2, 3, 7, 48]), min_size=n, max_size=n))
    start = T0_US + draw(st.integers(0, 7 * 86_400)) * SECOND
    stamps, t = [], start
    for g in gaps:
        t += g * base
        stamps.append(t)
    shape = draw(st.sampled_from(["drawn", "cycle"]))
    if shape == "drawn":
        values = draw(st.lists(values_strategy, min_size=n, max_size=n))
    else:
        # A daily cycle with a few drawn values in it (spikes, zeros, extremes).
        swing = draw(st.floats(0.0, 1e4))
        values = [100.0 + swing * math.sin(2 * math.pi * (s % 86_400_000_000) / 86_400e6) for s in stamps]
        for i, v in draw(st.lists(st.tuples(st.integers(0, max(n - 1, 0)), values_strategy), max_size=8)):
            if i < n:
                values[i] = v
    return values, stamps


@given(
    data=series_strategy(),
    sizes=st.lists(st.integers(1, 40), min_size=1, max_size=6),
    z_threshold=st.sampled_from([5.5, 1.0, 3.25]),
    warmup_points=st.integers(8, 80),
    level_points=st.integers(1, 40),
    season_days=st.integers(3, 7),
    scale_points=st.integers(16, 600),
    incident_points=st.integers(0, 300),
    utc_offset_minutes=st.sampled_from([0, 0, -480, 330, 840, -7]),
)
def test_fast_scorer_equals_reference_on_generated_series(
    data: tuple[list[float], list[int]],
    sizes: list[int],
    z_threshold: float,
    warmup_points: int,
    level_points: int,
    season_days: int,
    scale_points: int,
    incident_points: int,
    utc_offset_minutes: int,
) -> None:
    """Any series, settings and chunking: the same scores as the reference fed the whole series."""
    values, stamps = data
    assert_same(
        values,
        stamps,
        sizes,
        z_threshold=z_threshold,
        warmup_points=warmup_points,
        level_points=level_points,
        season_days=season_days,
        scale_points=scale_points,
        incident_points=incident_points,
        utc_offset_minutes=utc_offset_minutes,
    )


# Days a few days before a daylight-saving change (UTC midnight, epoch µs): New York's spring and
# autumn changes of 2024, Europe's of October 2024, and Lord Howe's half-hour change of April 2024.
NEAR_CHANGES = [1_709_856_000_000_000, 1_730_246_400_000_000, 1_729_728_000_000_000, 1_712_102_400_000_000]


@given(
    data=series_strategy(),
    sizes=st.lists(st.integers(1, 40), min_size=1, max_size=6),
    zone=st.sampled_from(["America/New_York", "Europe/Dublin", "Australia/Lord_Howe", "Asia/Kolkata"]),
    near=st.sampled_from(NEAR_CHANGES),
    warmup_points=st.integers(8, 80),
    season_days=st.integers(3, 7),
)
def test_fast_scorer_equals_reference_in_a_time_zone(
    data: tuple[list[float], list[int]],
    sizes: list[int],
    zone: str,
    near: int,
    warmup_points: int,
    season_days: int,
) -> None:
    """With a zone (daylight-saving changes crossed, half-hour ones too): the same scores, any chunking."""
    values, stamps = data
    moved = [t - T0_US + near for t in stamps]
    assert_same(values, moved, sizes, timezone=zone, warmup_points=warmup_points, season_days=season_days)


FLEETS = {
    "1-minute, 3 days": (ONE_MINUTE_3_DAYS, 1101),
    "5-minute, 7 days": (FIVE_MINUTES_7_DAYS, 2202),
    "5-minute, 21 days": (dataclasses.replace(FIVE_MINUTES_7_DAYS, days=21.0), 33),
    "20-second, 2 days": (dataclasses.replace(ONE_MINUTE_3_DAYS, step_seconds=20, days=2.0), 34),
    "5-minute, 21 days, weekly rhythm": (
        dataclasses.replace(FIVE_MINUTES_7_DAYS, days=21.0, weekend=(0.4, 0.8)),
        35,
    ),
    "1-minute, 3 days, incidents": (dataclasses.replace(ONE_MINUTE_3_DAYS, kinds=EXTRA_KINDS), 36),
}


@pytest.mark.parametrize("fleet", sorted(FLEETS))
def test_fast_scorer_equals_reference_on_cycle_fleets(fleet: str) -> None:
    """Daily-cycle fleets (every series kind, events included): the same scores, whole and chunked."""
    config, seed = FLEETS[fleet]
    for item in generate_cycle_fleet(seed, config, n_series=5).series:
        s = item.series
        assert_same(s.values.tolist(), s.epoch_us.tolist(), [1, 15, 100, 16])


@pytest.mark.parametrize("name", NAB_FILES)
def test_fast_scorer_equals_reference_on_nab(name: str) -> None:
    """Real series (NAB; skipped without the corpus): the same scores, default and small settings."""
    if not (NAB_ROOT / "data").is_dir():
        pytest.skip(f"no NAB corpus at {NAB_ROOT} (set NAB_DATA)")
    from backend.analytics.evaluation.loader import load_nab_corpus

    (item,) = load_nab_corpus(NAB_ROOT, on_bad_timestamps="repair", files=[name]).files
    values, stamps = item.series.values.tolist(), item.series.epoch_us.tolist()
    assert_same(values, stamps, [500, 16, 3])
    assert_same(values, stamps, [64], warmup_points=8, level_points=3, season_days=3, scale_points=16)


class _ReferenceEngine(ZScoreEngine):
    """``zscore`` with the reference scorer: everything else (windows, labels, sentences) shared."""

    name: ClassVar[str] = "zscore_reference"

    def scorer(self) -> ReferenceZScoreScorer:  # type: ignore[override]
        return ReferenceZScoreScorer(
            z_threshold=self.z_threshold,
            warmup_points=self.warmup_points,
            level_points=self.level_points,
            season_days=self.season_days,
            scale_points=self.scale_points,
            incident_points=self.incident_points,
            utc_offset_minutes=self.utc_offset_minutes,
            timezone=self.timezone,
        )


@pytest.mark.parametrize(
    "config",
    [
        {},
        {"window_size_points": 64, "stride_points": 16},
        {"utc_offset_minutes": -480},
        {"timezone": "America/Los_Angeles"},
    ],
)
def test_engine_results_equal_the_reference_engine(config: dict[str, Any]) -> None:
    """detect with labels and sentences: the same results as the engine built on the reference scorer."""
    fleet = generate_cycle_fleet(1101, FIVE_MINUTES_7_DAYS, n_series=5)
    labelled = 0
    for item in fleet.series:
        s: MetricSeries = item.series
        want = _ReferenceEngine(**config).detect(s)
        got = ZScoreEngine(**config).detect(s)
        assert got == want
        labelled += sum(1 for r in got if r.is_anomalous and r.explanation)
    assert labelled > 0  # the labelling path ran


def test_fast_scorer_equals_reference_where_the_long_channel_alarms_and_stands_down() -> None:
    """Series on which the long channel speaks: gentle damped days (it alarms) and a lasting step
    (it stands down after ``incident_points``), whole and chunked, at the default and a short hold."""
    from tests.unit.test_zscore import damped_day, incident_day

    alarmed = 0
    for seed in range(4):
        stamps, vals, a, b = damped_day(seed, 3, amplitude=3.0)
        us = [int(t.timestamp()) * SECOND for t in stamps]
        assert_same(vals, us, [1, 15, 100, 16])
        assert_same(vals, us, [288], incident_points=8)  # it stands down within the damped day
        alarmed += max(ZScoreScorer().update_many(vals, us)[a:b]) >= 0.5
        stamps, vals, _ = incident_day(seed, permanent=True)
        us = [int(t.timestamp()) * SECOND for t in stamps]
        assert_same(vals, us, [64, 7])
        assert_same(vals, us, [300], incident_points=8)
    assert alarmed >= 3  # the long channel's alarm branch ran


@pytest.mark.parametrize("kind", ["hourly-1min", "quarter-hourly-1min", "hourly-5min", "daily-5min"])
def test_fast_scorer_equals_reference_on_periodic_jobs(kind: str) -> None:
    """Series with jittery periodic jobs (bench_audit's), on which points far from the cycle are judged
    against the band of the last days (weekdays, weekend days, and the first weekend's fallback): the
    same scores, whole and chunked, in UTC and at UTC-8."""
    series, _, _ = load_benchmark("bench_audit").job_series(703, kind)
    values, stamps = series.values.tolist(), series.epoch_us.tolist()
    assert_same(values, stamps, [1, 15, 100, 16])
    assert_same(values, stamps, [300], utc_offset_minutes=-480)


def test_fast_scorer_equals_reference_where_the_series_holds_still() -> None:
    """Series with stretches that do not move at all, which teach no scale: a metric at exactly 0 every
    night (from a midnight start, so the warm-up is still too, and from a noon start) and CPU pinned at
    exactly 100 for hours (bench_audit's *saturated*): the same scores, whole and chunked."""
    rng = random.Random(5)
    for step, start in ((60, 0), (300, 0), (60, 12 * 3600)):
        stamps = [T0_US + (start + i * step) * SECOND for i in range(3 * 86_400 // step)]
        values = []
        for t in stamps:
            minute = (t // SECOND // 60) % 1440
            busy = 420 <= minute < 1200
            day = 100.0 * math.sin(math.pi * (minute - 420) / 780) + rng.gauss(0.0, 3.0)
            values.append(max(0.0, day) if busy else 0.0)
        assert_same(values, stamps, [1, 15, 100, 16])
    series, _, _ = load_benchmark("bench_audit").shape_series(3, "saturated")
    assert_same(series.values.tolist(), series.epoch_us.tolist(), [300, 17])


@pytest.mark.parametrize("step", [1, 5])
def test_fast_scorer_equals_reference_on_a_request_rate(step: int) -> None:
    """Request rates with a night trough at 10% of the peak and noise a share of the level (bench_audit's
    *traffic*), whose hours' loudness multiplies every scale by 0.3 to 3: the same scores, whole and
    chunked, in UTC and in New York (the hours follow the zone's clock)."""
    series, _ = load_benchmark("bench_audit").traffic_series(11, "mult", 0.1, step)
    values, stamps = series.values.tolist(), series.epoch_us.tolist()
    assert_same(values, stamps, [1, 15, 100, 16])
    assert_same(values, stamps, [300], timezone="America/New_York")
