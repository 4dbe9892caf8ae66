"""Unit tests of backend.analytics.scoring (PointScoringEngine) and windows.locate_window."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta, timezone
from typing import ClassVar

import pytest

from backend.analytics import AnomalyType, MetricSeries
from backend.analytics.scoring import PointScoringEngine, windows_from_z
from backend.analytics.testing import check_engine
from backend.analytics.windows import locate_window

T0 = datetime(2024, 5, 1, tzinfo=timezone.utc)


class Deviation(PointScoringEngine):
    """Score = relative distance from the running mean of the earlier points, squashed to [0, 1]."""

    name: ClassVar[str] = "deviation"
    causal: ClassVar[bool] = True

    def __init__(self, *, window_size_points: int = 1, stride_points: int = 1, classify: bool = True) -> None:
        super().__init__(
            window_size_points=window_size_points, stride_points=stride_points, classify=classify
        )

    def score_points(self, series: MetricSeries) -> Sequence[float]:
        out: list[float] = []
        mean = 0.0
        for i, v in enumerate(series.values):
            if i == 0:
                mean = v
            # Relative distance, halved first so that +-1e308 cannot overflow.
            half_gap = abs(v * 0.5 - mean * 0.5)
            d = half_gap / max(abs(v), abs(mean), 1e-300)
            out.append(d / (d + 0.2))
            mean += (v * 0.5 - mean * 0.5) * (2.0 / (i + 1))
        return out


def make(values: list[float]) -> MetricSeries:
    return MetricSeries(
        "acme", "c", "n", "m", [T0 + timedelta(minutes=i) for i in range(len(values))], values
    )


def test_windows_take_the_max_point_score() -> None:
    """A window's score is the max of its points' scores; NORMAL exactly below score_threshold."""
    s = make([1.0] * 20 + [5.0] + [1.0] * 19)
    results = Deviation(window_size_points=5, stride_points=5).detect(s)
    assert len(results) == 8
    flagged = [r for r in results if r.is_anomalous]
    assert [r.window_start for r in flagged] == [T0 + timedelta(minutes=20)]
    assert flagged[0].anomaly_label is AnomalyType.SPIKE and flagged[0].explanation
    assert all((r.anomaly_label is AnomalyType.NORMAL) == (r.anomaly_score < 0.5) for r in results)


def test_conformance_kit_passes() -> None:
    """A PointScoringEngine subclass passes every contract check out of the box."""
    outcomes = check_engine(Deviation)
    assert all(o.status != "failed" for o in outcomes)


def test_broken_hook_is_reported_not_clipped() -> None:
    """Scores outside [0, 1] or of the wrong length are an engine bug, reported by name."""

    class Bad(Deviation):
        def score_points(self, series: MetricSeries) -> Sequence[float]:
            return [1.5] * len(series)

    with pytest.raises(RuntimeError, match=r"Bad.score_points: score\[0\] = 1.5 is outside \[0, 1\]"):
        Bad().detect(make([1.0, 2.0]))

    class Short(Deviation):
        def score_points(self, series: MetricSeries) -> Sequence[float]:
            return [0.0]

    with pytest.raises(RuntimeError, match="returned 1 scores for 2 points"):
        Short().detect(make([1.0, 2.0]))


def test_bad_configuration_names_argument() -> None:
    """window_size_points, stride_points and classify are validated."""
    with pytest.raises(ValueError, match="Deviation: window_size_points must be a positive int, got 0"):
        Deviation(window_size_points=0)
    with pytest.raises(TypeError, match="Deviation: classify must be a bool"):
        Deviation(classify="yes")  # type: ignore[arg-type]


def test_locate_window() -> None:
    """locate_window maps a result's times back to indices, and refuses an empty span."""
    s = make([0.0] * 10)
    w = locate_window(s, T0 + timedelta(minutes=2), T0 + timedelta(minutes=4))
    assert (w.start_index, w.end_index) == (2, 5)
    w = locate_window(s, T0 + timedelta(seconds=90), T0 + timedelta(minutes=4, seconds=1))
    assert (w.start_index, w.end_index) == (2, 5)
    with pytest.raises(ValueError, match="no point of series"):
        locate_window(s, T0 + timedelta(seconds=10), T0 + timedelta(seconds=20))


# -- windows_from_z: the calibration the plugin engines share ---------------------------


def _flat(n: int) -> MetricSeries:
    t0 = datetime(2024, 5, 1, tzinfo=timezone.utc)
    return MetricSeries("t", "c", "n", "m", [t0 + timedelta(minutes=i) for i in range(n)], [1.0] * n)


def test_windows_from_z_scores_labels_and_places_windows() -> None:
    """z / (z + threshold) per window's worst point; SPIKE under half the points at threshold, else TREND."""
    series = _flat(12)
    z = [0.0, 1.0, 6.0, 0.0, 3.0, 3.0, 0.0, 0.0, float("inf")]  # points 3..11
    out = windows_from_z(series, z, first=3, window_size_points=3, stride_points=3, threshold=3.0)
    assert [r.window_start for r in out] == [series.timestamps[i] for i in (3, 6, 9)]
    assert [r.window_end for r in out] == [series.timestamps[i] for i in (5, 8, 11)]
    assert [r.anomaly_score for r in out] == [6.0 / 9.0, 0.5, 1.0]
    assert [r.anomaly_label for r in out] == [AnomalyType.SPIKE, AnomalyType.TREND, AnomalyType.SPIKE]
    assert all(r.magnitude is None for r in out)


def test_windows_from_z_normal_below_score_threshold_and_magnitude_hook() -> None:
    """Below score_threshold a window is NORMAL; magnitude(start, stop) is called per window."""
    series = _flat(4)
    calls: list[tuple[int, int]] = []

    def magnitude(start: int, stop: int) -> float:
        calls.append((start, stop))
        return 0.25

    out = windows_from_z(
        series,
        [2.0] * 4,
        window_size_points=2,
        stride_points=1,
        threshold=3.0,
        score_threshold=0.5,
        magnitude=magnitude,
    )
    assert [r.anomaly_label for r in out] == [AnomalyType.NORMAL] * 3
    assert [r.magnitude for r in out] == [0.25] * 3
    assert calls == [(0, 2), (1, 3), (2, 4)]


@pytest.mark.parametrize(
    ("kwargs", "error", "fragment"),
    [
        ({"z": [0.0] * 3}, ValueError, "windows_from_z: z must be 4 scores"),
        ({"z": [0.0, -1.0, 0.0, 0.0]}, ValueError, "z[1] must be a number >= 0"),
        ({"z": [0.0, float("nan"), 0.0, 0.0]}, ValueError, "z[1] must be a number >= 0"),
        ({"z": [0.0, "1", 0.0, 0.0]}, TypeError, "z[1] must be a number >= 0"),
        ({"first": 5}, ValueError, "first must be an int in [0, 4]"),
        ({"first": True}, TypeError, "first must be an int"),
        ({"threshold": 0.0}, ValueError, "threshold must be a positive number"),
        ({"score_threshold": 0.0}, ValueError, "score_threshold must be a number in (0, 1]"),
        ({"window_size_points": 0}, ValueError, "window_size_points"),
        ({"stride_points": 1.5}, TypeError, "stride_points"),
    ],
)
def test_windows_from_z_rejects_bad_input(
    kwargs: dict[str, object], error: type[Exception], fragment: str
) -> None:
    """Every bad argument is named, with what was expected."""
    args: dict[str, object] = {"z": [0.0] * 4, "window_size_points": 2, "stride_points": 1, "threshold": 3.0}
    args.update(kwargs)
    with pytest.raises(error) as info:
        windows_from_z(_flat(4), **args)  # type: ignore[arg-type]
    assert fragment in str(info.value)
